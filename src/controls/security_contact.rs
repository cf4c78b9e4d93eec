//! The account's alternate contacts (CIS 1.2): who AWS tells about a security notice (SECURITY),
//! and optionally about billing and operations. Account Management API, a global API called in
//! us-east-1, without `AccountId`: for the calling account (API reference, PutAlternateContact:
//! "If you don't specify this parameter, it defaults to the Amazon Web Services account of the
//! identity used to call the operation").

use crate::aws::{Aws, SdkResultExt, absent_on};
use crate::change::{Action, Change, ControlId, Diff};
use crate::controls::control::{Control, DiffContext};
use crate::interact::Interaction;
use crate::plan::{ContactPlan, Plan};

const CONTROL: ControlId = ControlId::named("security_contact");
const CIS: &[&str] = &["1.2"];

/// The alternate contacts.
pub struct SecurityContact;

impl Control for SecurityContact {
    const ID: ControlId = CONTROL;
    const TITLE: &'static str = "Security contact";
    const CIS: &'static [&'static str] = CIS;
    type Observed = Observed;
    type Op = Op;

    fn managed(plan: &Plan) -> bool {
        plan.security_contact().is_some()
    }
    async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
        observe(aws, plan).await
    }
    fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
        diff(ctx, observed)
    }
    async fn apply(aws: &Aws, op: &Op, _io: &dyn Interaction) -> anyhow::Result<()> {
        apply(aws, op).await
    }
}

/// One contact as AWS answered it; `None` where AWS left a field out.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Contact {
    pub name: Option<String>,
    pub title: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    /// Each contact type the plan sets (`SECURITY`, `BILLING`, `OPERATIONS`), and what is set:
    /// `None` when none is (`ResourceNotFoundException`).
    pub contacts: Vec<(String, Option<Contact>)>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `PutAlternateContact` of this type.
    Put {
        kind: String,
        name: String,
        title: String,
        email: String,
        phone: String,
    },
}

/// `GetAlternateContact` for each type the plan sets, at once (Account Management API
/// reference: `ResourceNotFoundException` when the account has none of that type).
pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    let Some(p) = plan.security_contact() else {
        return Ok(Observed::default());
    };
    aws.require_global_api("Account Management", "security_contact")?;
    let reads = p.contacts().into_iter().map(|(kind, _, _)| async move {
        let out = absent_on(
            aws.account
                .get_alternate_contact()
                .alternate_contact_type(kind.into())
                .send()
                .await,
            &["ResourceNotFoundException"],
            format!("reading the {kind} alternate contact (Account GetAlternateContact)"),
        )?;
        let contact = out.map(|o| {
            let c = o.alternate_contact;
            Contact {
                name: c.as_ref().and_then(|c| c.name.clone()),
                title: c.as_ref().and_then(|c| c.title.clone()),
                email: c.as_ref().and_then(|c| c.email_address.clone()),
                phone: c.as_ref().and_then(|c| c.phone_number.clone()),
            }
        });
        anyhow::Ok((kind.to_string(), contact))
    });
    let contacts = futures_util::future::join_all(reads)
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    Ok(Observed { contacts })
}

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
    let mut d = Diff::default();
    let Some(p) = ctx.plan.security_contact() else {
        return d;
    };
    for (kind, _, wanted) in p.contacts() {
        let resource = format!("alternate contact {kind}");
        d.checked(CONTROL, &resource, CIS);
        // A type the observation lacks is unknown: set again, never in line.
        let live = observed
            .contacts
            .iter()
            .find(|(k, _)| k == kind)
            .and_then(|(_, c)| c.as_ref());
        if let Some(change) = contact_change(kind, &resource, live, &wanted) {
            d.push(change.cis(CIS));
        }
    }
    d
}

/// The change that sets `wanted`, if `live` differs in any field.
fn contact_change(
    kind: &str,
    resource: &str,
    live: Option<&Contact>,
    wanted: &ContactPlan,
) -> Option<Change<Op>> {
    let op = Op::Put {
        kind: kind.to_string(),
        name: wanted.name.clone(),
        title: wanted.title.clone(),
        email: wanted.email.clone(),
        phone: wanted.phone.clone(),
    };
    let action = match live {
        None => Action::Create,
        Some(_) => Action::Update,
    };
    let mut change = Change::new(CONTROL, resource, action, op);
    let fields = [
        ("Name", live.and_then(|c| c.name.as_deref()), &wanted.name),
        (
            "Title",
            live.and_then(|c| c.title.as_deref()),
            &wanted.title,
        ),
        (
            "EmailAddress",
            live.and_then(|c| c.email.as_deref()),
            &wanted.email,
        ),
        (
            "PhoneNumber",
            live.and_then(|c| c.phone.as_deref()),
            &wanted.phone,
        ),
    ];
    let mut differs = false;
    for (field, before, after) in fields {
        if before != Some(after.as_str()) {
            differs = true;
            change = change.field(field, before, Some(after));
        }
    }
    differs.then_some(change)
}

/// `PutAlternateContact` (Account Management API reference): it replaces the contact of that type.
pub async fn apply(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    let Op::Put {
        kind,
        name,
        title,
        email,
        phone,
    } = op;
    aws.account
        .put_alternate_contact()
        .alternate_contact_type(kind.as_str().into())
        .name(name)
        .title(title)
        .email_address(email)
        .phone_number(phone)
        .send()
        .await
        .describe(format!(
            "setting the {kind} alternate contact (Account PutAlternateContact)"
        ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::control::diff_for_tests;

    const PLAN: &str = "[security_contact]\n\
        name = \"Sec Team\"\ntitle = \"Security\"\nemail = \"sec@example.com\"\n\
        phone = \"+14155550100\"\n[security_contact.billing]\nname = \"Bill\"\n\
        title = \"Finance\"\nemail = \"bill@example.com\"\nphone = \"+14155550101\"\n";

    fn diff_of(contacts: Vec<(String, Option<Contact>)>) -> Diff<Op> {
        diff_for_tests(PLAN, |ctx| diff(ctx, &Observed { contacts }))
    }

    fn contact(name: &str, title: &str, email: &str, phone: &str) -> Option<Contact> {
        Some(Contact {
            name: Some(name.into()),
            title: Some(title.into()),
            email: Some(email.into()),
            phone: Some(phone.into()),
        })
    }

    #[test]
    fn each_planned_type_is_checked_and_only_differences_are_fields() {
        let d = diff_of(vec![
            (
                "SECURITY".into(),
                contact("Sec Team", "Security", "sec@example.com", "+14155550100"),
            ),
            (
                "BILLING".into(),
                contact("Bill", "Finance", "other@example.com", "+14155550101"),
            ),
        ]);
        assert_eq!(d.checks().len(), 2);
        assert_eq!(d.changes.len(), 1, "{:?}", d.changes);
        let c = &d.changes[0];
        assert_eq!(c.resource, "alternate contact BILLING");
        assert_eq!(c.fields.len(), 1, "only the e-mail differs");
    }

    #[test]
    fn none_set_or_not_read_is_created() {
        let d = diff_of(vec![("SECURITY".into(), None)]);
        assert_eq!(
            d.changes.len(),
            2,
            "BILLING was not read: unknown is not in line"
        );
        assert!(d.changes.iter().all(|c| c.action == Action::Create));
        // A field AWS left out is a difference.
        let mut partial = contact("Sec Team", "Security", "sec@example.com", "+14155550100");
        partial.as_mut().unwrap().phone = None;
        let d = diff_of(vec![
            ("SECURITY".into(), partial),
            (
                "BILLING".into(),
                contact("Bill", "Finance", "bill@example.com", "+14155550101"),
            ),
        ]);
        assert_eq!(d.changes.len(), 1);
        assert_eq!(d.changes[0].action, Action::Update);
    }
}
