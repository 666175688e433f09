//! `miniktl annotate`: add, change (`--overwrite`) or remove (`key-`)
//! annotations — kubectl annotate (the logic lives in `label.rs`).

use crate::cmd::label::{edit_metadata, MetaField};
use crate::context::Ctx;
use crate::error::Result;

/// Update the annotations on a resource.
#[derive(clap::Args, Debug)]
pub struct Annotate {
    /// TYPE NAME KEY=VAL ... KEY- ... (or TYPE/NAME).
    #[arg(required = true)]
    pub args: Vec<String>,
    #[arg(long = "overwrite")]
    pub overwrite: bool,
    #[arg(short = 'l', long = "selector")]
    pub selector: Option<String>,
    #[arg(long = "all")]
    pub all: bool,
    /// Print the current annotations instead.
    #[arg(long = "list")]
    pub list: bool,
}

impl Annotate {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        edit_metadata(
            ctx,
            MetaField::Annotations,
            &self.args,
            self.overwrite,
            self.selector.as_deref(),
            self.all,
            self.list,
        )
        .await
    }
}
