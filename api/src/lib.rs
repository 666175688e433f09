//! # minik-api: the API machinery every minik component shares
//!
//! Models Kubernetes' `apimachinery` (and the parts of `k8s.io/api` that are
//! rules rather than types). It does no I/O: everything here is a pure
//! function over `serde_json::Value` objects, so the API server, the
//! controllers and `miniktl` agree on one set of rules.
//!
//! A tour:
//! - [`catalogue`]: which kinds are served, their group/version/plural/scope.
//! - [`kinds`]: one file per kind — its strategy (defaults, validation, typed
//!   form, lifecycle rules, table columns); the catalogue lists them.
//! - [`convert`]: conversion between served versions that share storage.
//! - [`names`]: DNS-1123 names, label keys and values, with Kubernetes' messages.
//! - [`selectors`]: label selectors (`app=web,tier in (a,b)`) and field selectors.
//! - [`quantity`]: resource quantities (`250m`, `128Mi`).
//! - [`quota`]: what an object costs a namespace's ResourceQuotas (shared by
//!   the API server's quota admission and the quota controller).
//! - [`defaults`]: the defaulting kube-apiserver applies on create and update.
//! - [`validation`]: per-kind validation, producing [`field_error::FieldError`]s.
//! - [`strategic_merge`]: strategic-merge-patch, the patch type `kubectl` sends.
//! - [`managed_fields`]: field ownership (`managedFields`) and server-side
//!   apply, over [`field_set`] (sets of field paths) and [`field_shape`]
//!   (each kind's structs, maps and list types).
//! - [`tables`]: server-side `Table` columns for `kubectl get`.
//! - [`meta`]: timestamps, ages and small helpers over object metadata.
//! - [`protobuf`]: Kubernetes protobuf request bodies (what `kubectl create` sends) decoded to JSON.
//!
//! Deliberately left out: protobuf responses, CRDs, API version conversion beyond the
//! few served aliases (see [`catalogue::ResourceInfo::storage_group`]).

pub mod catalogue;
pub mod cel_rules;
pub mod convert;
pub mod custom_resource;
pub mod defaults;
pub mod duration;
pub mod field_error;
pub mod field_set;
pub mod field_shape;
pub mod kinds;
pub mod managed_fields;
pub mod meta;
pub mod names;
pub mod pod_security;
pub mod protobuf;
pub mod quantity;
pub mod quota;
pub mod rbac;
pub mod selectors;
pub mod strategic_merge;
pub mod structural_schema;
pub mod tables;
pub mod validation;

pub use catalogue::ResourceInfo;
pub use field_error::FieldError;
