//! Lease (coordination.k8s.io/v1): a heartbeat or a lock.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::coordination::v1 as coordination;

/// The Lease strategy.
pub struct Lease;

/// `leases` in coordination.k8s.io/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "coordination.k8s.io",
    "v1",
    "Lease",
    "leases",
    "lease",
    &Lease,
);

impl Strategy for Lease {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::coordination::v1::Lease>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::coordination::v1::Lease>(g))
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_lease(obj, errs)
    }
    fn columns(&self) -> &'static [Column] {
        LEASE_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        lease_cells(obj, now)
    }
}

fn validate_lease(obj: &Value, errs: &mut Errs) {
    let Some(lease) = typed::<coordination::Lease>(obj, errs) else {
        return;
    };
    let spec = lease.spec.unwrap_or_default();
    if let Some(d) = spec.lease_duration_seconds.filter(|d| *d <= 0) {
        errs.push(FieldError::invalid(
            "spec.leaseDurationSeconds",
            Value::from(d),
            "must be greater than 0",
        ));
    }
    if let Some(t) = spec.lease_transitions.filter(|t| *t < 0) {
        errs.push(FieldError::invalid(
            "spec.leaseTransitions",
            Value::from(t),
            NEGATIVE,
        ));
    }
}

const LEASE_COLUMNS: &[Column] = &[
    NAME,
    string("Holder", "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field."),
    AGE,
];

fn lease_cells(lease: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_cell(lease),
        text(lease, "/spec/holderIdentity").into(),
        age_cell(lease, now),
    ]
}
