//! The kinds of authentication.k8s.io/v1 minik serves: SelfSubjectReview
//! (`kubectl auth whoami`).

pub mod self_subject_review;
