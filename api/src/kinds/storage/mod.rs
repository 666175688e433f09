//! The kinds of storage.k8s.io/v1.

pub mod storage_class;
