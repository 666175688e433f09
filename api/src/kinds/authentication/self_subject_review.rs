//! SelfSubjectReview (authentication.k8s.io/v1): "who am I?" — the
//! caller's user name, uid and groups as the API server authenticated them
//! (after impersonation). Create only; never stored.

use crate::kinds::{prelude::*, Backing, Reviewer};

/// The SelfSubjectReview strategy.
pub struct SelfSubjectReview;

/// `selfsubjectreviews` in authentication.k8s.io/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "authentication.k8s.io",
    "v1",
    "SelfSubjectReview",
    "selfsubjectreviews",
    "",
    &SelfSubjectReview,
)
.cluster_scoped();

impl Strategy for SelfSubjectReview {
    fn backing(&self) -> Backing {
        Backing::Review
    }
    fn verbs(&self) -> &'static [&'static str] {
        &["create"]
    }
    fn has_spec(&self) -> bool {
        false
    }
    fn review(&self, obj: &mut Value, _: Option<&str>, reviewer: &dyn Reviewer) {
        let user = reviewer.caller();
        let mut info = json!({"username": user.name, "groups": user.groups});
        let uid = reviewer.caller_uid();
        if !uid.is_empty() {
            info["uid"] = json!(uid);
        }
        obj["status"] = json!({"userInfo": info});
    }
}
