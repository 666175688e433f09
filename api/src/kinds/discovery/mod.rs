//! The kinds of discovery.k8s.io/v1.

pub mod endpoint_slice;
