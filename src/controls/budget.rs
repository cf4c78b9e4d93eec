//! A monthly cost budget that warns a person before a surprise bill: e-mail alerts at 80% and 100%
//! of ACTUAL spend and at 100% of FORECASTED spend. Forecasts need weeks of history, so in a new
//! account's first month the ACTUAL alerts are the ones that fire. AWS Budgets is a global API,
//! called in us-east-1 with the account's ID.
//!
//! How a difference is repaired (moto serves no UpdateBudget, CreateSubscriber or
//! DeleteSubscriber, so these are the calls the tests can prove):
//! - a limit, time unit or budget type that differs: the budget is made again (DeleteBudget, then
//!   CreateBudget with its alerts), which on AWS also restarts its performance history;
//! - a missing alert: CreateNotification with its subscriber;
//! - an alert whose e-mail subscriber is missing: DeleteNotification, then CreateNotification.
//!
//! Alerts the plan does not name (a person's own 50% alert) are left alone.

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
    /// `DeleteBudget` (before making it again).
    DeleteBudget { name: String },
    /// `CreateNotification` with one e-mail subscriber.
    CreateAlert {
        name: String,
        alert: Alert,
        email: String,
    },
    /// `DeleteNotification` (before making it again with its subscriber).
    DeleteAlert { name: String, alert: Alert },
}

/// `DescribeBudget` (NotFoundException: none) with `DescribeNotificationsForBudget`, then
/// `DescribeSubscribersForNotification` for each notification at once (AWS Budgets API reference).
pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    let Some(p) = plan.budget() else {
        return Ok(Observed::default());
    };
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
    Ok(Observed {
        budget: Some(Live {
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
    if !same_amount || shape.iter().any(|(_, l, w)| *l != Some(*w)) {
        let mut change = Change::with_ops(
            CONTROL,
            &resource,
            Action::Update,
            vec![Op::DeleteBudget { name: name.clone() }, create],
        )
        .note("made again: deleted, then created with its alerts (its history restarts)");
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
                change.ops.push(Op::DeleteAlert {
                    name: name.clone(),
                    alert,
                });
                change.ops.push(add);
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
/// `DeleteBudget`, `CreateNotification`, `DeleteNotification`. Each takes the account's ID.
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
        Op::DeleteBudget { name } => {
            aws.budgets
                .delete_budget()
                .account_id(account)
                .budget_name(name)
                .send()
                .await
                .describe(format!("deleting budget {name} (Budgets DeleteBudget)"))?;
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
        Op::DeleteAlert { name, alert } => {
            aws.budgets
                .delete_notification()
                .account_id(account)
                .budget_name(name)
                .notification(notification(*alert)?)
                .send()
                .await
                .describe(format!(
                    "removing the alert at {} from budget {name} (Budgets DeleteNotification)",
                    alert.describe()
                ))?;
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
        assert_eq!(ops.len(), 3, "{ops:?}");
        assert!(matches!(ops[0], Op::CreateAlert { alert, .. } if alert == ALERTS[1]));
        assert!(matches!(ops[1], Op::DeleteAlert { alert, .. } if alert == ALERTS[2]));
        assert!(matches!(ops[2], Op::CreateAlert { alert, .. } if alert == ALERTS[2]));
    }

    #[test]
    fn another_limit_makes_the_budget_again() {
        let all: Vec<_> = ALERTS.iter().map(|a| (*a, ME)).collect();
        let d = diff_of(live("50.0", &all));
        assert!(matches!(
            d.changes[0].ops[..],
            [Op::DeleteBudget { .. }, Op::CreateBudget { .. }]
        ));
        // Unknown is never in line: a limit AWS left out differs.
        let mut o = live("20", &all);
        o.budget.as_mut().unwrap().amount = None;
        assert_eq!(diff_of(o).changes.len(), 1);
    }
}
