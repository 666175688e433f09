//! The kinds of autoscaling/v2 and v1.

pub mod horizontal_pod_autoscaler;
