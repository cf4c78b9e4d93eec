//! The `--plan` benchmark (run it with scripts/bench; `cargo test` does not run benches). A hardened
//! emulated account, plans/baseline.toml with every control on (GuardDuty, a security contact and
//! a budget added), and 0, 20 and 50 ms added by the proxy to every call.
//! For each: wall time of the whole process, calls made, and the round trips paid: the time
//! added by the latency divided by the latency. Compared with the same calls made one after
//! another. Prints a table with the waves of calls the proxy counted, for the baseline acting in
//! every region the account can use and in one region only (`regions`, issue 16); checks the
//! targets (at most 5 round trips at 50 ms, at most 3 waves, at most 66 calls plus 6 per region)
//! but asserts no wall-clock time.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Account, CurStub, every_control_plan};

const RUNS: usize = 9;

async fn median_wall(acct: &Account, plan: &str) -> (Duration, usize, Duration, usize) {
    let mut walls = Vec::new();
    let mut busy = Vec::new();
    let mut calls = 0;
    let mut waves = 0;
    for _ in 0..RUNS {
        acct.proxy.clear();
        let started = Instant::now();
        let run = acct.run(&["--plan", "-f", plan]).await;
        walls.push(started.elapsed());
        busy.push(acct.proxy.busy_time());
        assert_eq!(run.code, 2, "{}", run.all());
        calls = acct.proxy.calls().len();
        waves = waves.max(acct.proxy.waves());
        assert!(acct.proxy.writes().is_empty());
    }
    walls.sort();
    busy.sort();
    (walls[RUNS / 2], calls, busy[RUNS / 2], waves)
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(plan_benchmark());
}

async fn plan_benchmark() {
    let acct = Account::new().await;
    // moto has no Cost and Usage Report API: the test stub answers it (tests/common/cur_stub.rs).
    let _stub = CurStub::install(&acct.proxy);
    // Every control: the baseline with GuardDuty, a security contact and a budget added.
    let plan = acct.write_plan("every-control.toml", &every_control_plan());
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    // Warm moto and the page cache.
    let _ = median_wall(&acct, &plan).await;

    println!(
        "\n| regions | added latency per call | wall time (median of {RUNS}) | calls | waves | round trips paid: by wall time (by time with a call in flight) | same calls one after another |"
    );
    println!("|---|---|---|---|---|---|---|");
    let all_regions = acct.usable_regions().await.len();
    let one_region = acct.write_plan(
        "one-region.toml",
        &every_control_plan().replacen("regions = \"all\"", "regions = [\"us-east-1\"]", 1),
    );
    let mut verdict = Vec::new();
    for (regions, plan) in [(all_regions, &plan), (1, &one_region)] {
        let mut base = Duration::ZERO;
        let mut base_busy = Duration::ZERO;
        for ms in [0u64, 20, 50] {
            let latency = Duration::from_millis(ms);
            acct.proxy.set_latency(latency);
            let (wall, calls, busy, waves) = median_wall(&acct, plan).await;
            if ms == 0 {
                base = wall;
                base_busy = busy;
            }
            let sequential = base + latency * calls as u32;
            let paid = if ms == 0 {
                "-".to_string()
            } else {
                let rt = wall.saturating_sub(base).as_secs_f64() / latency.as_secs_f64();
                let waited = busy.saturating_sub(base_busy).as_secs_f64() / latency.as_secs_f64();
                if ms == 50 {
                    // With no added latency an answer can beat a request the client had not sent
                    // yet, so waves are judged where a call takes longer than the client needs.
                    // The baseline's target is 3 (tests/e2e/perf.rs); GuardDuty adds one: its
                    // GetDetector needs ListDetectors' answer, which needs the region list.
                    verdict.push(format!(
                        "{regions} regions, waves at 50 ms: {waves} (target <= 4 with GuardDuty): {}",
                        if waves <= 4 { "met" } else { "NOT met" }
                    ));
                    verdict.push(format!(
                        "{regions} regions, round trips at 50 ms: {rt:.1} by wall time, {waited:.1} by time with a call in flight (target <= 5): {}",
                        if rt.max(waited) <= 5.0 { "met" } else { "NOT met" }
                    ));
                }
                format!("{rt:.1} ({waited:.1})")
            };
            println!(
                "| {regions} | {ms} ms | {} ms | {calls} | {waves} | {paid} | {} ms |",
                wall.as_millis(),
                sequential.as_millis()
            );
            if ms == 0 {
                // tests/e2e/perf.rs's bound for the baseline, plus what GuardDuty (2 a region), the
                // contact (1) and the budget (2, and 1 per alert: 3) read.
                let bound = 60 + 4 * regions + 2 * regions + 6;
                verdict.push(format!(
                    "{regions} regions, calls: {calls} (bound in tests/e2e/perf.rs: {bound}): {}",
                    if calls <= bound { "met" } else { "NOT met" }
                ));
            }
        }
    }
    acct.proxy.set_latency(Duration::ZERO);
    println!("\n{}", verdict.join("\n"));
    println!(
        "(round trips paid = (wall at N ms - wall at 0 ms) / N ms, and (time with at least one call in flight at the proxy, at N ms - at 0 ms) / N ms; one after another = wall at 0 ms + calls x N ms)"
    );
}
