//! The sandbox's stand-ins for what moto does not serve, run as one process in front of moto: the
//! Cost and Usage Report API (tests/common/cur_stub.rs), EC2's instance metadata defaults and
//! default EBS key (tests/common/ec2_stub.rs), IAM Access Analyzer (tests/common/analyzer_stub.rs),
//! and IAM's `SimulatePrincipalPolicy` and AWS Budgets' `DescribeSubscribersForNotification` (the
//! test proxy's emulations, tests/common/proxy.rs). These are the test suite's loopback stubs, not
//! emulators; they keep their state in memory only. `scripts/sandbox` starts it and points
//! `AWS_ENDPOINT_URL_COST_AND_USAGE_REPORT_SERVICE`, `AWS_ENDPOINT_URL_IAM`,
//! `AWS_ENDPOINT_URL_EC2`, `AWS_ENDPOINT_URL_ACCESSANALYZER` and `AWS_ENDPOINT_URL_BUDGETS` at it;
//! everything else they receive goes on to moto.
//!
//!   cargo run --example sandbox_stubs -- http://127.0.0.1:MOTO_PORT ACCOUNT_ID   # prints its URL

#[allow(dead_code)]
#[path = "../tests/common/proxy.rs"]
mod proxy;

#[allow(dead_code)]
#[path = "../tests/common/cur_stub.rs"]
mod cur_stub;

#[allow(dead_code)]
#[path = "../tests/common/ec2_stub.rs"]
mod ec2_stub;

#[allow(dead_code)]
#[path = "../tests/common/analyzer_stub.rs"]
mod analyzer_stub;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(upstream), Some(account)) = (args.next(), args.next()) else {
        eprintln!(
            "usage: sandbox_stubs UPSTREAM_URL ACCOUNT_ID (requests the stubs do not answer go to \
             UPSTREAM_URL; ACCOUNT_ID is the emulated account, for the ARNs the stubs answer)"
        );
        std::process::exit(2);
    };
    let proxy = proxy::Proxy::start(&upstream).await;
    let _cur = cur_stub::CurStub::install(&proxy);
    let _ec2 = ec2_stub::Ec2Stub::install(&proxy, &account);
    let _analyzer = analyzer_stub::AnalyzerStub::install(&proxy, &account);
    proxy.emulate_budget_subscribers(&proxy::BudgetBook::default());
    println!("{}", proxy.url);
    std::future::pending::<()>().await;
}
