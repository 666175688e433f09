//! minik-scheduler (being built).
