//! minik-dns (being built).
