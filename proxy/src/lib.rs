//! minik-proxy (being built).
