//! The kinds of apiregistration.k8s.io/v1: the API's registry of group-versions.

pub mod api_service;
