//! The plain data the parts share: what observe finds, what diff produces for apply.

use crate::bucket::{self, KmsKey};
use crate::change::ControlId;

/// The control's name (its `Control::ID`).
pub(super) const CONTROL: ControlId = ControlId::named("cloudtrail");
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    /// The key the plan's alias points to.
    pub key: Option<KeyState>,
    /// The plan's trail (by ARN: name and home region).
    pub trail: Option<TrailState>,
    /// Every other trail the account has (for adoption and honest notices).
    pub other_trails: Vec<TrailState>,
    pub bucket: bucket::Observed,
    /// The access-log bucket, when the plan names one.
    pub access_log_bucket: Option<bucket::Observed>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct KeyState {
    pub arn: String,
    pub enabled: bool,
    /// `KeyState` as KMS spells it (`Enabled`, `Disabled`, `PendingDeletion`, ...). Only an enabled key
    /// can be rotated, have its policy read, or encrypt logs.
    pub state: String,
    pub customer_managed: bool,
    pub rotation: bool,
    /// The `default` key policy as KMS returned it.
    pub policy: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TrailState {
    pub name: String,
    pub arn: String,
    pub home_region: String,
    pub bucket: String,
    /// A key prefix moves the logs out of `AWSLogs/ACCOUNT/`, where the bucket policy lets
    /// CloudTrail write.
    pub s3_key_prefix: Option<String>,
    pub multi_region: bool,
    /// An organization trail (`IsOrganizationTrail`): made in the management account, it records
    /// every member account's events.
    pub organization: bool,
    pub global_service_events: bool,
    pub log_file_validation: bool,
    pub kms_key_id: Option<String>,
    pub logging: bool,
    /// Management events, read and write, are recorded.
    pub management_events: bool,
    /// Another account's trail (an organization trail seen from a member account, say) whose
    /// status could not be read: never adopted.
    pub read_error: Option<String>,
    /// `LatestDeliveryError` with no successful delivery attempt after it: logs are not arriving.
    pub delivery_error: Option<String>,
    /// The trail's advanced event selectors (empty when it uses basic ones).
    pub advanced_selectors: Vec<AdvancedSelector>,
}

/// An advanced event selector as plain data, in CloudTrail's field names.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AdvancedSelector {
    pub name: Option<String>,
    pub fields: Vec<FieldSelector>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct FieldSelector {
    pub field: String,
    pub equals: Vec<String>,
    pub starts_with: Vec<String>,
    pub ends_with: Vec<String>,
    pub not_equals: Vec<String>,
    pub not_starts_with: Vec<String>,
    pub not_ends_with: Vec<String>,
}

impl AdvancedSelector {
    /// All management events, read and write ("Logging management events", CloudTrail user guide).
    pub fn management_events() -> AdvancedSelector {
        AdvancedSelector {
            name: Some("Management events (aws-harden)".into()),
            fields: vec![FieldSelector {
                field: "eventCategory".into(),
                equals: vec!["Management".into()],
                ..FieldSelector::default()
            }],
        }
    }
}

/// A trail's settings as the plan wants them (every boolean on).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrailSettings {
    pub name: String,
    pub bucket: String,
    pub kms_key: KmsKey,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// A write on one of the trail's hardened buckets (`crate::bucket`).
    Bucket(bucket::Op),
    /// `CreateKey` with the policy, then `CreateAlias`.
    CreateKey {
        alias: String,
        policy: String,
    },
    EnableKeyRotation {
        alias: String,
    },
    PutKeyPolicy {
        alias: String,
        policy: String,
    },
    /// `CreateTrail`; a trail of that name created meanwhile (`TrailAlreadyExists`) is updated.
    CreateTrail(TrailSettings),
    UpdateTrail(TrailSettings),
    /// Management events, read and write.
    PutEventSelectors {
        trail: String,
    },
    /// The trail's advanced event selectors as they are, plus one recording management events: a
    /// trail uses basic or advanced selectors, and putting basic ones would drop the advanced ones
    /// (PutEventSelectors, CloudTrail API reference).
    PutAdvancedEventSelectors {
        trail: String,
        selectors: Vec<AdvancedSelector>,
    },
    StartLogging {
        trail: String,
    },
}
