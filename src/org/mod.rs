//! Every account of an AWS Organization (`--org`): which accounts (`targets`), a role session in
//! each (`session`), and the fan-out that runs one piece of work per account, N at once, each
//! account's failure kept to itself. The one implementation of the fan-out: the assessment and
//! the apply both go through `for_each_account`.

pub mod session;
pub mod targets;

use std::future::Future;

use futures_util::StreamExt;

use crate::aws::Aws;
use crate::engine::{ApplyReport, Assessment};

pub use targets::{MemberAccount, Selection, Shard};

/// One account's run: its context, its assessment (only the changes are kept: memory grows with
/// the changes, not with everything observed) and, after an apply, its report; or why it failed.
pub struct MemberRun {
    pub account: MemberAccount,
    pub result: Result<Assessed, String>,
}

pub struct Assessed {
    pub aws: Aws,
    pub assessment: Assessment,
    pub report: Option<ApplyReport>,
}

impl MemberRun {
    /// How the account stands, for progress and the summary table.
    pub fn finished(&self) -> Finished {
        match &self.result {
            Err(_) => Finished::Failed,
            // Something could not be checked (a region refused for a missing permission).
            Ok(a) if a.assessment.has_errors() => Finished::Failed,
            Ok(a) => match &a.report {
                Some(r) if !r.succeeded() => Finished::Failed,
                Some(r) => match r.applied.len() {
                    0 => Finished::InLine,
                    n => Finished::Changes(n),
                },
                None if a.assessment.pending() => Finished::Changes(a.assessment.changes.len()),
                None => Finished::InLine,
            },
        }
    }
}

/// How one account's piece of work ended, for progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finished {
    InLine,
    /// Changes (or manual actions) pending, or made.
    Changes(usize),
    Failed,
}

/// Where the fan-out reports (the UI implements it; only it knows indicatif).
pub trait FanOutReporter: Send + Sync {
    /// A pass over `total` accounts begins ("Observing", "Applying").
    fn begin(&self, what: &str, total: usize);
    fn account_started(&self, account: &MemberAccount);
    fn account_finished(&self, account: &MemberAccount, how: &Finished, line: &str);
    fn end(&self);
}

/// Run `work` for every account, at most `jobs` at once, and return each account's result in the
/// accounts' order. `finished` says how each ended, with one line for the report.
pub async fn for_each_account<T, F, Fut>(
    accounts: &[MemberAccount],
    jobs: usize,
    what: &str,
    reporter: &dyn FanOutReporter,
    work: F,
    finished: impl Fn(&T) -> (Finished, String),
) -> Vec<T>
where
    F: Fn(usize, MemberAccount) -> Fut,
    Fut: Future<Output = T>,
{
    reporter.begin(what, accounts.len());
    let mut results: Vec<(usize, T)> =
        futures_util::stream::iter(accounts.iter().cloned().enumerate())
            .map(|(i, account)| {
                reporter.account_started(&account);
                let fut = work(i, account.clone());
                let finished = &finished;
                async move {
                    let out = fut.await;
                    let (how, line) = finished(&out);
                    reporter.account_finished(&account, &how, &line);
                    (i, out)
                }
            })
            .buffer_unordered(jobs.max(1))
            .collect()
            .await;
    reporter.end();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, t)| t).collect()
}
