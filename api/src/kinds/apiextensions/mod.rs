//! The kinds of apiextensions.k8s.io/v1: extending the API at run time.

pub mod custom_resource_definition;
