//! A monthly cost budget that warns a person before a surprise bill: e-mail alerts at 80% and 100%
//! of ACTUAL spend and at 100% of FORECASTED spend. Forecasts need weeks of history, so in a new
//! account's first month the ACTUAL alerts are the ones that fire. AWS Budgets is a global API,
//! called in us-east-1 with the account's ID.
//!
//! How a difference is repaired, in place, so nothing of a person's is lost (AWS Budgets API
//! reference: `DeleteBudget` "also deletes the notifications and subscribers", `DeleteNotification`
//! "also deletes the subscribers"; the tests' proxy emulates what moto lacks):
//! - a limit, time unit, budget type or currency that differs: `UpdateBudget`, which replaces the
//!   whole budget ("You can change every part of a budget except for the budgetName and the
//!   calculatedSpend"), so the budget is read again and written back whole with only those changed;
//! - a missing alert: `CreateNotification` with its subscriber;
//! - an alert whose e-mail subscriber is missing: `CreateSubscriber` (never a delete: deleting an
//!   alert's last subscriber deletes the alert).
//!
//! Alerts and subscribers the plan does not name (a person's own 50% alert, an SNS topic) are never
//! touched. A budget of the plan's name narrowed by cost filters, a filter expression or a billing
//! view is not the account's monthly budget: a manual action, never adopted or rewritten.

use crate::aws::{Aws, SdkResultExt, absent_on};
use crate::change::{Action, Change, ControlId, Diff};
use crate::controls::control::{Control, DiffContext};
use crate::interact::Interaction;
use crate::plan::{Plan, budget_amount};
use aws_sdk_budgets::types::{
    BudgetType, ComparisonOperator, Notification, NotificationType, NotificationWithSubscribers,
    Spend, Subscriber, SubscriptionType, ThresholdType, TimeUnit,
};

const CONTROL: ControlId = ControlId::named("budget");
const CIS: &[&str] = &[];

/// The monthly cost budget.
pub struct Budget;

impl Control for Budget {
    const ID: ControlId = CONTROL;
    const TITLE: &'static str = "Budget alerts";
    const CIS: &'static [&'static str] = CIS;
    type Observed = Observed;
    type Op = Op;

    fn managed(plan: &Plan) -> bool {
        plan.budget().is_some()
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

/// One alert: a percentage of actual or forecasted spend, compared with GREATER_THAN.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Alert {
    /// `ACTUAL` or `FORECASTED`.
    pub forecasted: bool,
    /// Percent of the limit.
    pub percent: f64,
}

impl Alert {
    fn kind(self) -> &'static str {
        if self.forecasted {
            "FORECASTED"
        } else {
            "ACTUAL"
        }
    }
    fn describe(self) -> String {
        format!("{}% of {} spend", self.percent, self.kind().to_lowercase())
    }
}

/// The alerts every budget gets.
pub const ALERTS: [Alert; 3] = [
    Alert {
        forecasted: false,
        percent: 80.0,
    },
    Alert {
        forecasted: false,
        percent: 100.0,
    },
    Alert {
        forecasted: true,
        percent: 100.0,
    },
];

/// The budget as AWS answered it; `None` where a field was left out.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Live {
    pub budget_type: Option<String>,
    pub time_unit: Option<String>,
    pub amount: Option<String>,
    pub unit: Option<String>,
    /// What narrows the budget to part of the account's spend, as read: `cost filters`, `a filter
    /// expression`, `a billing view`. Empty: the whole account.
    pub narrowed_by: Vec<String>,
    /// Each notification read: its type, operator, threshold, threshold type and e-mail
    /// subscribers.
    pub notifications: Vec<LiveNotification>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct LiveNotification {
    pub notification_type: String,
    pub comparison: String,
    pub threshold: f64,
    pub threshold_type: Option<String>,
    pub emails: Vec<String>,
}

impl LiveNotification {
    fn is(&self, alert: Alert) -> bool {
        self.notification_type == alert.kind()
            && self.comparison == "GREATER_THAN"
            && (self.threshold - alert.percent).abs() < 1e-9
            && self.threshold_type.as_deref() == Some("PERCENTAGE")
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    /// `None`: no budget of the plan's name.
    pub budget: Option<Live>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `CreateBudget`: a monthly COST budget in USD with every alert of `ALERTS` to `email`.
    CreateBudget {
        name: String,
        amount: String,
        email: String,
    },
    /// `UpdateBudget`: the budget as read, written back whole as a monthly COST budget of
    /// `amount` USD.
    UpdateBudget { name: String, amount: String },
    /// `CreateNotification` with one e-mail subscriber.
    CreateAlert {
        name: String,
        alert: Alert,
        email: String,
    },
    /// `CreateSubscriber`: the e-mail address added to an existing alert.
    AddSubscriber {
        name: String,
        alert: Alert,
        email: String,
    },
}

/// `DescribeBudget` (NotFoundException: none) with `DescribeNotificationsForBudget`, then
/// `DescribeSubscribersForNotification` for each notification at once (AWS Budgets API reference).
pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    let Some(p) = plan.budget() else {
        return Ok(Observed::default());
    };
    aws.require_global_api("AWS Budgets", "budget")?;
    let account = aws.account_id();
    let name = p.name.as_str();
    // The budget and its notifications at once (both NotFoundException when there is no budget):
    // one round trip, not two.
    let (budget, notes) = tokio::join!(
        aws.budgets
            .describe_budget()
            .account_id(account)
            .budget_name(name)
            .send(),
        // At most 100 notifications per call; a budget holds at most 10 (Budgets quotas).
        aws.budgets
            .describe_notifications_for_budget()
            .account_id(account)
            .budget_name(name)
            .max_results(100)
            .send()
    );
    let budget = absent_on(
        budget,
        &["NotFoundException"],
        format!("reading budget {name} (Budgets DescribeBudget)"),
    )?;
    // No budget: its notifications' answer says nothing more, whatever it was.
    let Some(budget) = budget.and_then(|o| o.budget) else {
        return Ok(Observed { budget: None });
    };
    // A budget whose notifications were not found (deleted between the two reads): none read,
    // so every alert is pending.
    let notes = absent_on(
        notes,
        &["NotFoundException"],
        format!("reading the alerts of budget {name} (Budgets DescribeNotificationsForBudget)"),
    )?
    .and_then(|n| n.notifications)
    .unwrap_or_default();
    let reads = notes.iter().map(|n| async move {
        let subs = aws
            .budgets
            .describe_subscribers_for_notification()
            .account_id(account)
            .budget_name(name)
            .notification(n.clone())
            .max_results(100)
            .send()
            .await
            .describe(format!(
                "reading who the alerts of budget {name} go to (Budgets DescribeSubscribersForNotification)"
            ))?;
        anyhow::Ok(LiveNotification {
            notification_type: n.notification_type().as_str().to_string(),
            comparison: n.comparison_operator().as_str().to_string(),
            threshold: n.threshold(),
            threshold_type: n.threshold_type().map(|t| t.as_str().to_string()),
            emails: subs
                .subscribers()
                .iter()
                .filter(|s| s.subscription_type() == &SubscriptionType::Email)
                .map(|s| s.address().to_string())
                .collect(),
        })
    });
    let notifications = futures_util::future::join_all(reads)
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    // CostFilters is deprecated for FilterExpression, but a budget made with it is still narrowed.
    #[allow(deprecated)]
    let narrowed_by = [
        (
            budget.cost_filters().is_some_and(|f| !f.is_empty()),
            "cost filters",
        ),
        (budget.filter_expression().is_some(), "a filter expression"),
        (budget.billing_view_arn().is_some(), "a billing view"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, what)| what.to_string())
    .collect();
    Ok(Observed {
        budget: Some(Live {
            narrowed_by,
            budget_type: Some(budget.budget_type().as_str().to_string()),
            time_unit: Some(budget.time_unit().as_str().to_string()),
            amount: budget.budget_limit().map(|l| l.amount().to_string()),
            unit: budget.budget_limit().map(|l| l.unit().to_string()),
            notifications,
        }),
    })
}

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
    let mut d = Diff::default();
    let Some(p) = ctx.plan.budget() else {
        return d;
    };
    let name = p.name.clone();
    let resource = format!("budget {name}");
    d.checked(CONTROL, &resource, CIS);
    let amount = p.amount.0.clone();
    let create = Op::CreateBudget {
        name: name.clone(),
        amount: amount.clone(),
        email: p.email.clone(),
    };
    let Some(live) = &observed.budget else {
        let mut change = Change::new(CONTROL, &resource, Action::Create, create).field(
            "BudgetLimit",
            None::<&str>,
            Some(format!("{amount} USD a month")),
        );
        for alert in ALERTS {
            change = change.field(
                &format!("Alert {}", alert.describe()),
                None::<&str>,
                Some(&p.email),
            );
        }
        d.push(change);
        return d;
    };
    // Amounts compare as numbers: AWS answers "20.0" for "20".
    let same_amount = live
        .amount
        .as_deref()
        .and_then(budget_amount)
        .zip(budget_amount(&amount))
        .is_some_and(|(a, b)| (a - b).abs() < 0.005);
    let shape = [
        ("BudgetType", live.budget_type.as_deref(), "COST"),
        ("TimeUnit", live.time_unit.as_deref(), "MONTHLY"),
        ("BudgetLimit.Unit", live.unit.as_deref(), "USD"),
    ];
    if !live.narrowed_by.is_empty() {
        d.push(
            Change::manual(CONTROL, &resource)
                .field(
                    "Scope",
                    Some(live.narrowed_by.join(", ")),
                    Some("the whole account"),
                )
                .note(format!(
                    "budget {name} is narrowed by {}: it is not this account's monthly budget, and \
                     aws-harden does not rewrite it. Name another budget in [budget] name, or \
                     remove what narrows it",
                    live.narrowed_by.join(" and ")
                )),
        );
        return d;
    }
    if !same_amount || shape.iter().any(|(_, l, w)| *l != Some(*w)) {
        let mut change = Change::new(
            CONTROL,
            &resource,
            Action::Update,
            Op::UpdateBudget {
                name: name.clone(),
                amount: amount.clone(),
            },
        )
        .note("updated in place: its alerts and their subscribers stay");
        if !same_amount {
            change = change.field("BudgetLimit.Amount", live.amount.as_deref(), Some(&amount));
        }
        for (field, l, w) in shape {
            if l != Some(w) {
                change = change.field(field, l, Some(w));
            }
        }
        d.push(change);
        return d;
    }
    let mut change = Change::with_ops(CONTROL, &resource, Action::Update, vec![]);
    for alert in ALERTS {
        let field = format!("Alert {}", alert.describe());
        let add = Op::CreateAlert {
            name: name.clone(),
            alert,
            email: p.email.clone(),
        };
        match live.notifications.iter().find(|n| n.is(alert)) {
            None => {
                change = change.field(&field, None::<&str>, Some(&p.email));
                change.ops.push(add);
            }
            Some(n) if !n.emails.contains(&p.email) => {
                let before = match n.emails.is_empty() {
                    true => "no e-mail subscriber".to_string(),
                    false => n.emails.join(", "),
                };
                change = change.field(&field, Some(before), Some(&p.email));
                change.ops.push(Op::AddSubscriber {
                    name: name.clone(),
                    alert,
                    email: p.email.clone(),
                });
            }
            Some(_) => {}
        }
    }
    if !change.ops.is_empty() {
        d.push(change);
    }
    d
}

fn notification(alert: Alert) -> anyhow::Result<Notification> {
    let kind = match alert.forecasted {
        true => NotificationType::Forecasted,
        false => NotificationType::Actual,
    };
    Ok(Notification::builder()
        .notification_type(kind)
        .comparison_operator(ComparisonOperator::GreaterThan)
        .threshold(alert.percent)
        .threshold_type(ThresholdType::Percentage)
        .build()?)
}

fn email_subscriber(email: &str) -> anyhow::Result<Subscriber> {
    Ok(Subscriber::builder()
        .subscription_type(SubscriptionType::Email)
        .address(email)
        .build()?)
}

/// AWS Budgets API reference: `CreateBudget` (with `NotificationsWithSubscribers`),
/// `DescribeBudget` + `UpdateBudget`, `CreateNotification`, `CreateSubscriber`. Each takes the
/// account's ID.
pub async fn apply(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    let account = aws.account_id();
    match op {
        Op::CreateBudget {
            name,
            amount,
            email,
        } => {
            let budget = aws_sdk_budgets::types::Budget::builder()
                .budget_name(name)
                .budget_type(BudgetType::Cost)
                .time_unit(TimeUnit::Monthly)
                .budget_limit(Spend::builder().amount(amount).unit("USD").build()?)
                .build()?;
            let mut create = aws
                .budgets
                .create_budget()
                .account_id(account)
                .budget(budget);
            for alert in ALERTS {
                create = create.notifications_with_subscribers(
                    NotificationWithSubscribers::builder()
                        .notification(notification(alert)?)
                        .subscribers(email_subscriber(email)?)
                        .build()?,
                );
            }
            create
                .send()
                .await
                .describe(format!("creating budget {name} (Budgets CreateBudget)"))?;
        }
        Op::UpdateBudget { name, amount } => {
            // UpdateBudget replaces the whole budget: read it now and write it back with only the
            // limit, time unit and type changed (what the re-check before writing saw).
            let read = aws
                .budgets
                .describe_budget()
                .account_id(account)
                .budget_name(name)
                .send()
                .await
                .describe(format!("reading budget {name} (Budgets DescribeBudget)"))?;
            let Some(b) = read.budget else {
                anyhow::bail!(
                    "reading budget {name} (Budgets DescribeBudget): no budget in the answer"
                );
            };
            // The deprecated CostFilters and CostTypes are written back as read: UpdateBudget
            // replaces the whole budget, and dropping them would widen or change it.
            #[allow(deprecated)]
            let new = aws_sdk_budgets::types::Budget::builder()
                .budget_name(b.budget_name)
                .budget_limit(Spend::builder().amount(amount).unit("USD").build()?)
                .set_cost_filters(b.cost_filters)
                .set_cost_types(b.cost_types)
                .time_unit(TimeUnit::Monthly)
                .set_time_period(b.time_period)
                .budget_type(BudgetType::Cost)
                .set_auto_adjust_data(b.auto_adjust_data)
                .set_filter_expression(b.filter_expression)
                .set_metrics(b.metrics)
                .set_billing_view_arn(b.billing_view_arn)
                .build()?;
            aws.budgets
                .update_budget()
                .account_id(account)
                .new_budget(new)
                .send()
                .await
                .describe(format!("updating budget {name} (Budgets UpdateBudget)"))?;
        }
        Op::CreateAlert { name, alert, email } => {
            aws.budgets
                .create_notification()
                .account_id(account)
                .budget_name(name)
                .notification(notification(*alert)?)
                .subscribers(email_subscriber(email)?)
                .send()
                .await
                .describe(format!(
                    "adding the alert at {} to budget {name} (Budgets CreateNotification)",
                    alert.describe()
                ))?;
        }
        Op::AddSubscriber { name, alert, email } => {
            let sent = aws
                .budgets
                .create_subscriber()
                .account_id(account)
                .budget_name(name)
                .notification(notification(*alert)?)
                .subscriber(email_subscriber(email)?)
                .send()
                .await;
            // A retry whose first answer was lost: the subscriber is there (verification reads it).
            absent_on(
                sent,
                &["DuplicateRecordException"],
                format!(
                    "adding {email} to the alert at {} of budget {name} (Budgets CreateSubscriber)",
                    alert.describe()
                ),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::control::diff_for_tests;

    fn diff_of(observed: Observed) -> Diff<Op> {
        diff_for_tests(
            "[budget]\namount = 20\nemail = \"bills@example.com\"\n",
            |ctx| diff(ctx, &observed),
        )
    }

    fn live(amount: &str, alerts: &[(Alert, &[&str])]) -> Observed {
        Observed {
            budget: Some(Live {
                narrowed_by: vec![],
                budget_type: Some("COST".into()),
                time_unit: Some("MONTHLY".into()),
                amount: Some(amount.into()),
                unit: Some("USD".into()),
                notifications: alerts
                    .iter()
                    .map(|(a, emails)| LiveNotification {
                        notification_type: a.kind().into(),
                        comparison: "GREATER_THAN".into(),
                        threshold: a.percent,
                        threshold_type: Some("PERCENTAGE".into()),
                        emails: emails.iter().map(|e| e.to_string()).collect(),
                    })
                    .collect(),
            }),
        }
    }

    const ME: &[&str] = &["bills@example.com"];

    #[test]
    fn in_line_when_every_alert_reaches_the_address() {
        let all: Vec<_> = ALERTS.iter().map(|a| (*a, ME)).collect();
        let d = diff_of(live("20.0", &all));
        assert!(d.changes.is_empty(), "{:?}", d.changes);
        assert_eq!(d.checks().len(), 1);
    }

    #[test]
    fn a_missing_budget_is_created_with_every_alert() {
        let d = diff_of(Observed { budget: None });
        assert_eq!(d.changes[0].action, Action::Create);
        assert_eq!(d.changes[0].fields.len(), 4);
    }

    #[test]
    fn a_missing_alert_is_added_and_a_wrong_subscriber_replaced() {
        let d = diff_of(live(
            "20",
            &[(ALERTS[0], ME), (ALERTS[2], &["someone@example.com"])],
        ));
        let ops = &d.changes[0].ops;
        assert_eq!(ops.len(), 2, "{ops:?}");
        assert!(matches!(ops[0], Op::CreateAlert { alert, .. } if alert == ALERTS[1]));
        // The other subscriber stays: the address is added, nothing deleted.
        assert!(matches!(ops[1], Op::AddSubscriber { alert, .. } if alert == ALERTS[2]));
    }

    #[test]
    fn another_limit_updates_the_budget_in_place() {
        let all: Vec<_> = ALERTS.iter().map(|a| (*a, ME)).collect();
        let d = diff_of(live("50.0", &all));
        assert!(matches!(d.changes[0].ops[..], [Op::UpdateBudget { .. }]));
        // Unknown is never in line: a limit AWS left out differs.
        let mut o = live("20", &all);
        o.budget.as_mut().unwrap().amount = None;
        assert_eq!(diff_of(o).changes.len(), 1);
    }

    /// A budget narrowed to part of the spend is not the monthly budget: never rewritten.
    #[test]
    fn a_narrowed_budget_is_a_manual_action() {
        let all: Vec<_> = ALERTS.iter().map(|a| (*a, ME)).collect();
        let mut o = live("50.0", &all);
        o.budget.as_mut().unwrap().narrowed_by = vec!["cost filters".into()];
        let d = diff_of(o);
        assert_eq!(d.changes.len(), 1);
        assert!(d.changes[0].is_manual() && d.changes[0].ops.is_empty());
    }
}
