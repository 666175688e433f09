//! One file per kind: every per-kind rule of the API server, behind one
//! [`Strategy`] trait — kube-apiserver's per-kind "strategy" objects
//! (`pkg/registry/<group>/<kind>/strategy.go`) and its printers, in one place.
//!
//! A kind file (`kinds/<group>/<kind>.rs`) holds its served resource(s)
//! ([`ResourceInfo`]), its defaulting, create and update validation, the
//! typed shape it is decoded into at the boundary (a k8s-openapi struct),
//! its status/spec split and generation rules, its deletion rules, its
//! server-side table columns and any admission step. The generic code
//! (`registry`, `rest`, [`crate::validation`], [`crate::defaults`],
//! [`crate::tables`]) asks the strategy; it never compares kind names.
//!
//! Validation works on the k8s-openapi struct of the kind (decoded from the
//! stored JSON with [`typed`]), as kube-apiserver validates its Go structs;
//! defaulting and table cells work on the JSON (see [`crate::defaults`]).
//!
//! What several kinds share (object metadata, pod templates and pod specs,
//! label selectors, container validation) stays in the shared modules the
//! kind files call: [`crate::names`], [`crate::validation`],
//! [`crate::defaults`], [`crate::tables`], [`crate::selectors`].
//!
//! Adding a kind: write `kinds/<group>/<kind>.rs` with a unit struct, its
//! `RESOURCE` and an `impl Strategy`, declare the file in its group's
//! `mod.rs`, and add the `RESOURCE` to [`crate::catalogue`]'s list.

pub mod apiextensions;
pub mod apiregistration;
pub mod apps;
pub mod authentication;
pub mod authorization;
pub mod autoscaling;
pub mod batch;
pub mod certificates;
pub mod coordination;
pub mod core;
pub mod discovery;
pub mod metrics;
pub mod networking;
pub mod policy;
pub mod rbac;
pub mod storage;
pub(crate) mod typed;

/// What every kind file uses: the shared rule modules and the strategy types.
pub(crate) mod prelude {
    pub(crate) use super::{
        decode_as, is_present, schema_of, typed, Cluster, DecodeError, Decoded, Errs, Obj, Strategy,
    };
    pub(crate) use crate::catalogue::ResourceInfo;
    pub(crate) use crate::defaults::*;
    pub(crate) use crate::field_error::{ErrorType, FieldError};
    pub(crate) use crate::meta;
    pub(crate) use crate::names::{self, NameRule};
    pub(crate) use crate::quantity::Quantity;
    pub(crate) use crate::selectors::{self, LabelSelector};
    pub(crate) use crate::tables::*;
    pub(crate) use crate::validation::*;
    pub(crate) use jiff::Timestamp;
    pub(crate) use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    pub(crate) use schemars::SchemaGenerator;
    pub(crate) use serde_json::{json, Map, Value};
    pub(crate) use std::collections::{BTreeSet, HashSet};
}

use std::collections::BTreeSet;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{LimitRange, ScopedResourceSelectorRequirement};
use serde_json::{Map, Value};

pub use schemars::SchemaGenerator;
pub use typed::{decode_as, is_present, schema_of, typed, DecodeError, Decoded};

use crate::catalogue::ResourceInfo;
use crate::field_error::FieldError;
use crate::names::NameRule;
use crate::tables::{self, Column};

/// A JSON object, as the defaulting functions see it.
pub type Obj = Map<String, Value>;
/// Validation errors collected for one object.
pub type Errs = Vec<FieldError>;

/// The REST verbs of a resource whose objects can be created and deleted freely.
pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// What admission may read of the cluster (the API server implements it
/// over its store; `api` itself does no I/O).
pub trait Cluster {
    /// Every stored object of `info`'s resource (all namespaces).
    fn list(&self, info: &ResourceInfo) -> Vec<Value>;
}

/// Where a kind's objects come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing {
    /// Stored objects: the generic registry (create, update, watch, …).
    Store,
    /// Built from the usage the API server scrapes from the kubelets
    /// (metrics.k8s.io, metrics-server's in-memory storage): get and list only.
    ResourceMetrics,
    /// Questions to the authenticator or authorizer (access reviews,
    /// SelfSubjectReview): create only, answered in `status`, never stored.
    Review,
    /// What the API server knows of itself (the APIServices it serves, the
    /// health of the control plane), built on each read by
    /// [`Strategy::server_state`]: get and list only.
    ServerState,
}

/// One control-plane component's health, as ComponentStatus reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentHealth {
    pub name: String,
    pub healthy: bool,
    pub message: String,
    pub error: String,
}

/// What the API server tells [`Backing::ServerState`] kinds about itself.
pub trait ServerView {
    /// Every served group-version (custom ones included), in discovery order.
    fn group_versions(&self) -> Vec<(String, String)>;
    /// When this API server started.
    fn started(&self) -> Timestamp;
    /// The control plane's components and whether each is working.
    fn components(&self) -> Vec<ComponentHealth>;
}

/// What an RBAC object grants (see [`Strategy::grants`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Grant {
    /// A Role's (namespace set) or ClusterRole's rules.
    Rules {
        namespace: String,
        rules: Vec<k8s_openapi::api::rbac::v1::PolicyRule>,
    },
    /// A binding's roleRef, in the binding's namespace (empty: cluster-wide).
    Role {
        namespace: String,
        kind: String,
        name: String,
        /// The role's resource (`roles` or `clusterroles`), whose `bind`
        /// verb lets a user bind it without holding its rules.
        resource: &'static str,
    },
}

/// Where a custom kind's `scale` subresource reads and writes (the CRD's
/// `subresources.scale`, JSONPaths such as `.spec.replicas`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    /// Where the selector is, as a string (`.status.selector`), if anywhere.
    pub label_selector: Option<String>,
}

/// What a review kind may ask about the caller and the cluster's policy
/// (the API server answers from its authenticator and RBAC authorizer).
pub trait Reviewer {
    /// Who sent the request (after impersonation).
    fn caller(&self) -> crate::rbac::UserInfo;
    /// The caller's uid, if their credential names one.
    fn caller_uid(&self) -> String;
    /// Whether `user` may do what `request` describes.
    fn allows(&self, user: &crate::rbac::UserInfo, request: &crate::rbac::Request) -> bool;
    /// Every rule that applies to `user` in `namespace`.
    fn rules_for(
        &self,
        user: &crate::rbac::UserInfo,
        namespace: &str,
    ) -> Vec<k8s_openapi::api::rbac::v1::PolicyRule>;
}

/// Everything the generic API machinery asks of one kind. Every method has
/// the answer most kinds need, so a kind file states only how it differs.
pub trait Strategy: Sync {
    // -- shape ---------------------------------------------------------------

    /// Decodes `obj` into the kind's Go-equivalent type (a k8s-openapi
    /// struct) and back, as kube-apiserver decodes a body into its Go
    /// struct: a field of the wrong type is an error, and what the type does
    /// not know is reported so that `fieldValidation` can act on it.
    /// `None` for kinds without a typed form.
    fn decode(&self, info: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        let _ = (info, obj);
        None
    }

    /// Whether changes outside metadata and status bump `metadata.generation`.
    fn has_spec(&self) -> bool {
        true
    }

    /// Whether annotations count as spec for `generation` and may be written
    /// through the status subresource (Deployment, for the rollback and
    /// revision annotations its controller keeps).
    fn annotations_follow_spec(&self) -> bool {
        false
    }

    /// Whether `status` belongs to the system: cleared on create.
    fn system_owns_status(&self) -> bool {
        false
    }

    /// The rule `metadata.name` must follow.
    fn name_rule(&self) -> NameRule {
        NameRule::Subdomain
    }

    /// The fields a `fieldSelector` may name besides `metadata.name` and
    /// `metadata.namespace` (kube-apiserver's field label conversion).
    fn field_labels(&self) -> &'static [&'static str] {
        &[]
    }

    /// The resource whose form objects are stored in, for kinds the
    /// catalogue does not list (custom resources); `None`: the catalogue's rule.
    fn storage_info(&self) -> Option<&'static ResourceInfo> {
        None
    }

    /// Whether `application/strategic-merge-patch+json` applies (kube refuses
    /// it with 415 for custom resources, which carry no patch strategy).
    fn supports_strategic_merge(&self) -> bool {
        true
    }

    /// Where the `scale` subresource reads and writes; `None`: `spec.replicas`,
    /// `status.replicas` and the label selector at `spec.selector`.
    fn scale_paths(&self) -> Option<ScalePaths> {
        None
    }

    /// The object's OpenAPI v3 schema for `/openapi/v3` (`kubectl explain`):
    /// a `$ref` into `g`'s definitions for the built-in kinds (the
    /// k8s-openapi type's schema, named as Kubernetes names it), the
    /// schema itself for custom kinds.
    fn openapi_schema(&self, info: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        let _ = (info, g);
        None
    }

    /// Warnings a write of `obj` earns (a `Warning` header): what minik stores
    /// but does not honour.
    fn warnings(&self, obj: &Value) -> Vec<String> {
        let _ = obj;
        Vec::new()
    }

    /// What [`Self::prepare_create`] will warn about, judged on `obj` as
    /// submitted, before it changes it (a pod's deprecated AppArmor
    /// annotations, which it copies into fields).
    fn prepare_create_warnings(&self, obj: &Value) -> Vec<String> {
        let _ = obj;
        Vec::new()
    }

    /// Warnings a create earns (kube-apiserver's `WarningsOnCreate`),
    /// judged on the object about to be stored: defaulted, admitted and
    /// valid. A create that is refused earns none.
    fn warnings_on_create(&self, obj: &Value) -> Vec<String> {
        let _ = obj;
        Vec::new()
    }

    /// Where the objects come from: the store, or the scraped usage.
    fn backing(&self) -> Backing {
        Backing::Store
    }

    /// The verbs discovery lists for the kind's main resource.
    fn verbs(&self) -> &'static [&'static str] {
        ALL_VERBS
    }

    // -- create and update ---------------------------------------------------

    /// Fills in defaults (idempotent; never overwrites a value that is set).
    fn default(&self, info: &ResourceInfo, obj: &mut Obj) {
        let _ = (info, obj);
    }

    /// What the server adds on create once the object has a uid, beyond
    /// defaulting (a Job's generated selector, a gated Pod's condition).
    fn prepare_create(&self, obj: &mut Value, uid: &str) {
        let _ = (obj, uid);
    }

    /// What an update carries over from the stored object before defaulting
    /// (a Service's allocated addresses).
    fn prepare_update(&self, new: &mut Value, old: &Value) {
        let _ = (new, old);
    }

    /// Checks an object about to be stored (after defaulting). Object
    /// metadata has been checked already. Kind files check the typed form
    /// ([`typed`]): the object passed [`Self::decode`] at the boundary.
    fn validate(&self, info: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        let _ = (info, obj, errs);
    }

    /// What a create may not carry, beyond [`Self::validate`] (a pod's
    /// ephemeral containers: `ValidatePodCreate`).
    fn validate_new(&self, obj: &Value, errs: &mut Errs) {
        let _ = (obj, errs);
    }

    /// What may not change between `old` and `new`, beyond [`Self::validate`].
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        let _ = (new, old, errs);
    }

    /// Whether the API server allocates ClusterIPs and NodePorts for it
    /// (the Service REST storage's admission step).
    fn allocates_service_addresses(&self) -> bool {
        false
    }

    // -- admission: LimitRanger and ResourceQuota -----------------------------

    /// LimitRanger's mutating step (`MutateLimit`): fills in what the
    /// namespace's LimitRanges default (a pod's container requests and
    /// limits, with the `kubernetes.io/limit-ranger` annotation). Runs after
    /// defaulting and before validation, as kube-apiserver's mutating admission.
    fn limit_range_defaults(&self, obj: &mut Value, ranges: &[LimitRange]) {
        let _ = (obj, ranges);
    }

    /// LimitRanger's validating step (`ValidateLimit`): each broken min, max
    /// or ratio in Kubernetes' words (`minimum cpu usage per Container is
    /// 100m, but request is 50m`); empty when the object is within bounds.
    fn limit_range_violations(&self, obj: &Value, ranges: &[LimitRange]) -> Vec<String> {
        let _ = (obj, ranges);
        Vec::new()
    }

    /// The pod spec the admission plugins judge — PodSecurity, ServiceAccount
    /// (pods only).
    fn pod_spec(&self, obj: &Value) -> Option<k8s_openapi::api::core::v1::PodSpec> {
        let _ = obj;
        None
    }

    /// Whether LimitRanger checks updates too (`limit_range_violations` on
    /// the new object): claims, whose requests can grow; not pods, whose
    /// containers cannot change (Kubernetes skips pod updates).
    fn limit_range_checks_updates(&self) -> bool {
        false
    }

    /// What one object costs its namespace's quotas beyond its object count
    /// (`count/<resource>` is added by [`crate::quota::usage`]): `pods`,
    /// `requests.cpu`, `services.nodeports`, `requests.storage`, … An object
    /// that no longer counts (a finished pod) costs nothing here.
    fn quota_usage(&self, obj: &Value, now: Timestamp) -> crate::quota::ResourceList {
        let _ = (obj, now);
        Default::default()
    }

    /// Whether a quota's `hard` entry `resource` limits this kind (beyond
    /// its `count/…` name): the evaluator's `MatchingResources`.
    fn quota_tracks(&self, resource: &str) -> bool {
        let _ = resource;
        false
    }

    /// Whether the object matches one of a quota's scopes (`BestEffort`,
    /// `Terminating`, `PriorityClass` …). Kinds without scopes match none,
    /// so a scoped quota never limits them.
    fn quota_scope_matches(&self, obj: &Value, scope: &ScopedResourceSelectorRequirement) -> bool {
        let _ = (obj, scope);
        false
    }

    /// What a quota tracking `tracked` requires of the object
    /// (`Evaluator.Constraints`): a pod must set requests or limits for the
    /// compute resources quoted (`must specify limits.cpu for: web`).
    fn quota_constraints(&self, obj: &Value, tracked: &BTreeSet<String>) -> Result<(), String> {
        let _ = (obj, tracked);
        Ok(())
    }

    /// What creating or updating this object grants, for RBAC's escalation
    /// check: a Role's or ClusterRole's rules, or the role a binding names.
    fn grants(&self, obj: &Value) -> Option<Grant> {
        let _ = obj;
        None
    }

    /// A review kind's answer: `obj` (validated) with its `status` filled
    /// in; `namespace` is the one in the URL, for namespaced reviews.
    fn review(&self, obj: &mut Value, namespace: Option<&str>, reviewer: &dyn Reviewer) {
        let _ = (obj, namespace, reviewer);
    }

    /// What the API server records of who created the object (a
    /// CertificateSigningRequest's `spec.username`, `groups`, `uid`): set
    /// from the authenticated user on create, whatever the client sent.
    fn stamp_requester(&self, obj: &mut Value, user: &crate::rbac::UserInfo, uid: &str) {
        let _ = (obj, user, uid);
    }

    /// What the `approval` subresource may not do (a CSR's Approved and
    /// Denied conditions are exclusive and, once set, stay).
    fn validate_approval(&self, new: &Value, old: &Value, errs: &mut Errs) {
        let _ = (new, old, errs);
    }

    /// What the `ephemeralcontainers` subresource may not do (a pod's
    /// ephemeral containers are only ever added, never changed).
    fn validate_ephemeral(&self, new: &Value, old: &Value, errs: &mut Errs) {
        let _ = (new, old, errs);
    }

    /// A [`Backing::ServerState`] kind's objects, built from `view`.
    fn server_state(&self, view: &dyn ServerView) -> Vec<Value> {
        let _ = view;
        Vec::new()
    }

    /// The `Warning` a deprecated kind's every request gets
    /// (`v1 ComponentStatus is deprecated in v1.19+`).
    fn deprecation(&self) -> Option<&'static str> {
        None
    }

    /// Mutating admission on create that reads other stored objects, run
    /// before defaulting (kube's DefaultStorageClass plugin gives a claim
    /// the default class); `cluster` lists what is stored.
    fn admit_create(&self, obj: &mut Value, cluster: &dyn Cluster) {
        let _ = (obj, cluster);
    }

    /// The same for updates of the object itself (not its status): a CRD's
    /// accepted names and conditions follow its spec.
    fn admit_update(&self, new: &mut Value, old: &Value, cluster: &dyn Cluster) {
        let _ = (new, old, cluster);
    }

    // -- deletion --------------------------------------------------------------

    /// The grace period a delete gives the object, for kinds deleted
    /// gracefully (`requested` is the client's); `None` for kinds removed at
    /// once. A later delete may only shorten it.
    fn deletion_grace_seconds(&self, obj: &Value, requested: Option<i64>) -> Option<i64> {
        let _ = (obj, requested);
        None
    }

    /// What a delete marks besides `deletionTimestamp` (a Namespace's phase).
    fn mark_deleting(&self, obj: &mut Value) {
        let _ = obj;
    }

    /// Whether `spec.finalizers` also hold the object (Namespace).
    fn has_spec_finalizers(&self) -> bool {
        false
    }

    /// Whether a completed delete answers with the object rather than a
    /// `Status` (kube-apiserver does so for pods).
    fn returns_deleted_object(&self) -> bool {
        false
    }

    // -- printing ------------------------------------------------------------

    /// The server-side Table columns (`kubectl get`), wide ones included.
    fn columns(&self) -> &'static [Column] {
        tables::UNKNOWN_COLUMNS
    }

    /// One Table row's cells, one per column of [`Self::columns`].
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        vec![tables::name_cell(obj), tables::age_cell(obj, now)]
    }

    /// A Table row's `conditions` (kube marks finished pods `Completed`).
    fn row_conditions(&self, obj: &Value) -> Option<Value> {
        let _ = obj;
        None
    }
}
