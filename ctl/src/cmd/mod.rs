//! One file per subcommand, each the same shape: a `clap::Args` (or
//! `Subcommand`) type holding kubectl's flags, and
//! `async fn run(self, ctx: &Ctx) -> Result<()>`. `crate::Command`
//! dispatches to them.
//!
//! No file here imports another: what two subcommands share lives in the
//! crate's shared layer (`crate::flags`, `crate::objects`,
//! `crate::generate`, `crate::pod_pick`, ...), so each file reads on its own.

pub mod annotate;
pub mod api_resources;
pub mod apply;
pub mod attach;
pub mod auth;
pub mod autoscale;
pub mod cluster_info;
pub mod config;
pub mod cp;
pub mod create;
pub mod debug;
pub mod delete;
pub mod describe;
pub mod diff;
pub mod drain;
pub mod edit;
pub mod exec;
pub mod explain;
pub mod expose;
pub mod get;
pub mod label;
pub mod logs;
pub mod patch;
pub mod port_forward;
pub mod rollout;
pub mod run;
pub mod scale;
pub mod set;
pub mod step;
pub mod taint;
pub mod top;
pub mod version;
pub mod wait;
pub mod why;
