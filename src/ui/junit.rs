//! `--output junit`: the checks as JUnit XML, which test dashboards read. One test suite per
//! control, one test case per check; a failing check is a failure whose message is what differs.
//! Built with `quick-junit`, not by hand.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::change::{Check, ControlId, NoticeLevel};
use crate::controls::Change;
use crate::engine::{ApplyReport, Assessment};
use crate::ui::render;

/// The failure's text: the message, then the steps for a person, if any.
fn description(c: &Change) -> String {
    match &c.note {
        Some(note) => format!("{}\n{note}", render::one_line(c)),
        None => render::one_line(c),
    }
}

/// The report for one account: its checks as assessed, or, after an apply (`applied`), with each
/// failed check whose changes were all applied and verified counted as passed.
pub fn report(account: &str, a: &Assessment, applied: Option<&ApplyReport>) -> String {
    report_many(&[(account, Ok((a, applied)))])
}

/// One account of a report: its assessment (and apply), or why it could not be checked.
pub type AccountChecks<'a> = (
    &'a str,
    Result<(&'a Assessment, Option<&'a ApplyReport>), &'a str>,
);

/// The report for several accounts (`--org`): one test suite per account and control; an account
/// that could not be checked is a suite of its own with one errored case saying why.
pub fn report_many(accounts: &[AccountChecks]) -> String {
    let mut report = Report::new("aws-harden");
    for (account, checked) in accounts {
        match checked {
            Ok((a, applied)) => add_suites(&mut report, account, a, *applied),
            Err(error) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status.set_message(error.to_string());
                status.set_type("account error");
                let mut case = TestCase::new("account", status);
                case.set_classname(format!("{account}.aws-harden"));
                let mut suite = TestSuite::new(format!("{account}/aws-harden"));
                suite.add_test_case(case);
                report.add_test_suite(suite);
            }
        }
    }
    report
        .to_string()
        .expect("a JUnit report of plain strings serializes")
}

/// One account's suites, one per control.
fn add_suites(report: &mut Report, account: &str, a: &Assessment, applied: Option<&ApplyReport>) {
    let fixed = |check: &Check| {
        applied.is_some_and(|r| {
            let pending = a.changes_for(check).count();
            let done = r.applied.iter().filter(|c| check.is_about(c)).count();
            pending > 0 && done == pending && !r.not_verified.iter().any(|c| check.is_about(c))
        })
    };
    for id in ControlId::ALL {
        let checks: Vec<_> = a.checks.iter().filter(|c| c.control == id).collect();
        // What could not be checked at all (a region a missing permission refused): an errored
        // case, so the dashboard shows it as the run's exit code does.
        let unchecked: Vec<_> = a
            .notices
            .iter()
            .filter(|n| n.control == id && n.level == NoticeLevel::Error)
            .collect();
        if checks.is_empty() && unchecked.is_empty() {
            continue;
        }
        let mut suite = TestSuite::new(format!("{account}/{}", id.as_str()));
        for check in checks {
            let status = if check.passed || fixed(check) {
                TestCaseStatus::success()
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let changes: Vec<&Change> = a.changes_for(check).collect();
                let messages: Vec<String> = changes.iter().map(|c| render::one_line(c)).collect();
                s.set_message(messages.join(" | "));
                let texts: Vec<String> = changes.iter().map(|c| description(c)).collect();
                s.set_description(texts.join("\n\n"));
                s.set_type(check.rule.clone());
                s
            };
            let mut case = TestCase::new(check.located(), status);
            case.set_classname(format!("{account}.{}.{}", id.as_str(), check.rule));
            suite.add_test_case(case);
            // A finding the plan accepts: a skipped case saying why and until when.
            for accepted in &check.accepted {
                let mut status = TestCaseStatus::skipped();
                status.set_message(format!(
                    "accepted until {}: {}",
                    accepted.until, accepted.reason
                ));
                let mut case =
                    TestCase::new(format!("{}: {}", check.located(), accepted.finding), status);
                case.set_classname(format!("{account}.{}.{}", id.as_str(), check.rule));
                suite.add_test_case(case);
            }
        }
        for notice in unchecked {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message(notice.message.clone());
            status.set_type("not checked");
            let mut case = TestCase::new(format!("not checked: {}", notice.message), status);
            case.set_classname(format!("{account}.{}.not_checked", id.as_str()));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::Reader;
    use quick_xml::events::Event;

    /// A region that could not be checked (an error notice) is an errored case of its control.
    #[test]
    fn what_could_not_be_checked_is_an_errored_case() {
        let xml = report("1", &Assessment::sample_unchecked_region(), None);
        assert!(xml.contains("tests=\"2\""), "{xml}");
        assert!(xml.contains("errors=\"1\""), "{xml}");
        assert!(
            xml.contains("region eu-west-1 not checked: AccessDenied"),
            "{xml}"
        );
    }

    /// An accepted finding is a skipped case with its reason and date.
    #[test]
    fn an_accepted_finding_is_a_skipped_case() {
        let xml = report("1", &Assessment::sample_accepted(), None);
        assert!(xml.contains("tests=\"2\""), "{xml}");
        assert!(xml.contains("skipped=\"1\""), "{xml}");
        assert!(
            xml.contains("accepted until 2027-01-31: break-glass"),
            "{xml}"
        );
    }

    #[test]
    fn one_suite_per_control_one_case_per_check_failures_say_what_differs() {
        let a = Assessment::of_diff(Assessment::sample_diff());
        let xml = report("123456789012", &a, None);
        // Parsed back: the suites, the cases, and the failure's message.
        let mut reader = Reader::from_str(&xml);
        let (mut suites, mut cases, mut failures) = (Vec::new(), Vec::new(), Vec::new());
        loop {
            match reader.read_event().unwrap() {
                Event::Eof => break,
                Event::Start(e) | Event::Empty(e) => {
                    let attr = |name: &[u8]| {
                        e.attributes()
                            .flatten()
                            .find(|a| a.key.as_ref() == name)
                            .map(|a| {
                                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                    .unwrap()
                                    .into_owned()
                            })
                    };
                    match e.name().as_ref() {
                        b"testsuite" => suites.push(attr(b"name").unwrap()),
                        b"testcase" => cases.push(attr(b"name").unwrap()),
                        b"failure" => failures.push(attr(b"message").unwrap()),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        assert_eq!(
            suites,
            ["123456789012/admin_group", "123456789012/password_policy"]
        );
        assert_eq!(cases, ["iam group \"Admins\"", "account password policy"]);
        assert_eq!(
            failures,
            ["~ account password policy: minimum_length: 8 -> 14"]
        );
    }
}
