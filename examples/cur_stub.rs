//! The sandbox's stand-in for what moto does not serve: the Cost and Usage Report API (the test
//! suite's loopback STUB, tests/common/cur_stub.rs) and IAM's `SimulatePrincipalPolicy` (the test
//! proxy's emulation, tests/common/proxy.rs), run as a process in front of moto. It stores report
//! definitions in memory only. `scripts/sandbox` starts it and points
//! `AWS_ENDPOINT_URL_COST_AND_USAGE_REPORT_SERVICE` and `AWS_ENDPOINT_URL_IAM` at it.
//!
//!   cargo run --example cur_stub -- http://127.0.0.1:MOTO_PORT    # prints the stub's URL

#[allow(dead_code)]
#[path = "../tests/common/proxy.rs"]
mod proxy;

#[allow(dead_code)]
#[path = "../tests/common/cur_stub.rs"]
mod cur_stub;

#[tokio::main]
async fn main() {
    let Some(upstream) = std::env::args().nth(1) else {
        eprintln!(
            "usage: cur_stub UPSTREAM_URL (requests that are not Cost and Usage Report calls go there)"
        );
        std::process::exit(2);
    };
    let proxy = proxy::Proxy::start(&upstream).await;
    let _stub = cur_stub::CurStub::install(&proxy);
    println!("{}", proxy.url);
    std::future::pending::<()>().await;
}
