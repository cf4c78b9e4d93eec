//! The diff of `iam_users` against a sample credential report.

use super::*;
use crate::controls::control::diff_for_tests;

/// The header the IAM user guide ("Getting credential reports for your AWS account") lists, in
/// its order; rows in its formats: ISO 8601 times with `+00:00`, `N/A`, `no_information`,
/// `not_supported` (root's `password_enabled`).
const SAMPLE: &str = "user,arn,user_creation_time,password_enabled,password_last_used,\
password_last_changed,password_next_rotation,mfa_active,access_key_1_active,\
access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,\
access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,\
access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,\
cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,2026-11-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
old-key,arn:aws:iam::123456789012:user/old-key,2020-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2026-01-01T00:00:00+00:00,2026-02-01T10:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
two-keys,arn:aws:iam::123456789012:user/two-keys,2020-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2026-11-20T00:00:00+00:00,2026-12-06T00:00:00+00:00,us-east-1,iam,true,2026-11-21T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A
console,arn:aws:iam::123456789012:user/console,2019-01-01T00:00:00+00:00,true,no_information,2026-12-06T00:00:00+00:00,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
fine,arn:aws:iam::123456789012:user/fine,2019-01-01T00:00:00+00:00,true,2026-12-01T00:00:00+00:00,2026-06-01T00:00:00+00:00,N/A,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
";

/// 2026-12-07T12:00:00Z.
const NOW: u64 = 1_796_644_800;

fn observed() -> Observed {
    let rows = crate::aws::credential_report::parse(SAMPLE.as_bytes()).unwrap();
    let users: Vec<ReportUser> = rows
        .iter()
        .filter_map(ReportUser::of)
        .filter(|u| u.name != "<root_account>")
        .collect();
    Observed {
        now: NOW,
        generated: Some(NOW),
        users,
        ..Observed::default()
    }
}

fn diff_with(tables: &str, observed: &Observed) -> Diff<Op> {
    diff_for_tests(&format!("[iam_users]\n{tables}"), |ctx| diff(ctx, observed))
}

fn said(d: &Diff<Op>) -> String {
    d.notices
        .iter()
        .map(|n| n.message.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn shown(d: &Diff<Op>) -> Vec<String> {
    d.changes
        .iter()
        .map(|c| {
            let f = &c.fields[0];
            format!(
                "{} {}: {}",
                c.resource,
                f.field,
                f.before.clone().unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn the_sample_report_parses_as_aws_documents_it() {
    assert_eq!(parse_utc_time("2026-12-07T12:00:00+00:00"), Some(NOW));
    let o = observed();
    assert_eq!(o.users.len(), 4);
    let console = &o.users[2];
    assert_eq!(console.password_enabled, Some(true));
    assert_eq!(console.password_last_used, Stamp::NoInformation);
    assert_eq!(console.keys[0].last_used, Stamp::NotApplicable);
    assert_eq!(o.users[0].keys[0].active, Some(true));
    assert_eq!(
        o.users[0].keys[0].last_used,
        Stamp::At(parse_utc_time("2026-02-01T10:00:00Z").unwrap())
    );
    assert_eq!(
        Stamp::of(Some(&"yesterday".to_string())),
        Stamp::Unreadable("yesterday".into())
    );
}

/// Each finding names the user and the credential; a password set yesterday for an old user
/// is not unused (it counts from its own change), but it has no MFA.
#[test]
fn each_finding_names_the_user_and_the_credential() {
    let d = diff_with("", &observed());
    assert_eq!(
        shown(&d),
        [
            "iam user \"old-key\" access_key_1: access_key_1 active and unused for 309 days",
            "iam user \"old-key\" access_key_1: access_key_1 is 340 days old (rotate within 90)",
            "iam user \"two-keys\" access_key_2: two active access keys (one at most, but while rotating)",
            "iam user \"console\" mfa: console password without MFA",
        ]
    );
    assert!(d.changes.iter().all(|c| c.is_manual()));
    let checks = d.checks();
    assert_eq!(checks.iter().filter(|c| c.passed).count(), 1, "{checks:?}");
}

/// `deactivate_unused`: the unused key becomes a deactivation of the live key made at the
/// report's second; without the live read it stays manual; never the admin's.
#[test]
fn deactivate_unused_turns_off_exactly_the_unused_key() {
    let mut o = observed();
    let made = parse_utc_time("2026-01-01T00:00:00Z");
    o.live.insert(
        "old-key".into(),
        Live {
            keys: vec![
                LiveKey {
                    id: "AKIAOTHER".into(),
                    active: true,
                    created: Some(NOW),
                },
                LiveKey {
                    id: "AKIAOLD".into(),
                    active: true,
                    created: made,
                },
            ],
            ..Live::default()
        },
    );
    let d = diff_with("deactivate_unused = true\n", &o);
    let ops: Vec<&Op> = d.changes.iter().flat_map(|c| &c.ops).collect();
    assert_eq!(
        ops,
        [&Op::DeactivateKey {
            user: "old-key".into(),
            access_key_id: "AKIAOLD".into()
        }]
    );
    // The same user as aws-harden's admin: never changed, said so.
    let d = diff_with(
        "deactivate_unused = true\n[admin_group]\n[admin_user]\nname = \"old-key\"\n",
        &o,
    );
    assert!(d.changes.iter().all(|c| c.ops.is_empty()));
    assert!(format!("{:?}", d.changes).contains("never changes the user it runs as"));
    // Both keys active by the report, one turned off since: no longer two active keys.
    let mut two = observed();
    two.live.insert(
        "two-keys".into(),
        Live {
            keys: vec![LiveKey {
                id: "AKIAONE".into(),
                active: true,
                created: None,
            }],
            ..Live::default()
        },
    );
    let d = diff_with("", &two);
    assert!(
        !shown(&d).iter().any(|s| s.contains("two active")),
        "{:?}",
        shown(&d)
    );
    // Deactivated by hand since the report: not asked again.
    o.live.get_mut("old-key").unwrap().keys[1].active = false;
    let d = diff_with("", &o);
    assert!(
        !shown(&d).iter().any(|s| s.contains("old-key")),
        "{:?}",
        shown(&d)
    );
}

/// An exception silences its finding until its date (inclusive); after it, the finding is
/// back and said; one naming no user of the report is reported.
#[test]
fn exceptions_hold_until_their_date() {
    let exception = |expires: &str, user: &str| {
        format!(
            "[[iam_users.exception]]\nuser = \"{user}\"\ncredential = \"mfa\"\n\
                 reason = \"break-glass\"\nexpires = \"{expires}\"\n"
        )
    };
    let d = diff_with(&exception("2026-12-07", "console"), &observed());
    assert!(!shown(&d).iter().any(|s| s.contains("console")));
    assert!(said(&d).contains("accepted until 2026-12-07 (break-glass)"));
    // The user's check passes, carrying what was accepted, for the reports.
    let check = d
        .checks()
        .into_iter()
        .find(|c| c.resource == "iam user \"console\"")
        .unwrap();
    assert!(check.passed);
    assert_eq!(check.accepted.len(), 1);
    assert_eq!(
        check.accepted[0].finding,
        "mfa: console password without MFA"
    );
    assert_eq!(check.accepted[0].until, "2026-12-07");
    let d = diff_with(&exception("2026-12-06", "console"), &observed());
    assert!(shown(&d).iter().any(|s| s.contains("console\" mfa")));
    assert!(said(&d).contains("the exception expired on 2026-12-06"));
    // A general exception that expired does not hide a specific one that holds.
    let both = format!(
        "{}[[iam_users.exception]]\nuser = \"console\"\nreason = \"old\"\nexpires = \"2020-01-01\"\n",
        exception("2026-12-31", "console")
    );
    let d = diff_with(&both, &observed());
    assert!(
        !shown(&d).iter().any(|s| s.contains("console")),
        "{:?}",
        shown(&d)
    );
    let d = diff_with(&exception("2027-01-01", "nobody"), &observed());
    assert!(said(&d).contains("for user \"nobody\": no such user"));
}

/// Unknown is never in line: a time the report does not write as documented is a finding.
#[test]
fn an_unreadable_time_is_a_finding() {
    let mut o = observed();
    o.users[3].password_last_used = Stamp::Unreadable("soon".into());
    let d = diff_with("", &o);
    assert!(shown(&d).iter().any(|s| {
        s.contains("fine\" password: console password: when it was last used cannot be read")
    }));
}

/// The user aws-harden runs as (here `x`, the test caller) is never changed, even with
/// `deactivate_unused`: its unused key stays a manual action that says so.
#[test]
fn the_callers_own_user_is_never_changed() {
    let mut o = observed();
    o.users[0].name = "x".into();
    let made = parse_utc_time("2026-01-01T00:00:00Z");
    o.live.insert(
        "x".into(),
        Live {
            keys: vec![LiveKey {
                id: "AKIAOWN".into(),
                active: true,
                created: made,
            }],
            ..Live::default()
        },
    );
    let d = diff_with("deactivate_unused = true\n", &o);
    assert!(
        d.changes.iter().all(|c| c.ops.is_empty()),
        "{:?}",
        d.changes
    );
    assert!(
        shown(&d)
            .iter()
            .any(|s| s.starts_with("iam user \"x\" access_key_1"))
    );
}

/// An expired server certificate: a manual action, or with `deactivate_unused` a deletion; one
/// still valid passes; one whose expiration IAM left out is undecided.
#[test]
fn expired_server_certificates() {
    let mut o = observed();
    o.users.clear();
    o.certificates = vec![
        ("old".into(), Some(NOW - 1)),
        ("valid".into(), Some(NOW + 86_400)),
        ("unknown".into(), None),
    ];
    let d = diff_with("", &o);
    assert_eq!(d.changes.len(), 1);
    assert!(d.changes[0].is_manual() && d.changes[0].resource.contains("\"old\""));
    let d = diff_with("deactivate_unused = true\n", &o);
    assert_eq!(
        d.changes[0].ops,
        [Op::DeleteServerCertificate { name: "old".into() }]
    );
    let checks = d.checks();
    let passed = |name: &str| {
        checks
            .iter()
            .find(|c| c.resource.contains(&format!("\"{name}\"")))
            .unwrap()
            .passed
    };
    assert!(!passed("old") && passed("valid") && !passed("unknown"));
}
