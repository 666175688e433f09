//! miniktl (being built).
