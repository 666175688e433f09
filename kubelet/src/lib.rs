//! minik-kubelet (being built).
