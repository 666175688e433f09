//! `miniktl annotate`: add, change (`--overwrite`) or remove (`key-`)
//! annotations — kubectl annotate. The editing is `crate::metadata_edit`'s,
//! shared with `label`.

use crate::context::Ctx;
use crate::error::Result;
use crate::flags::Selector;
use crate::metadata_edit::{edit_metadata, MetaField};

/// Update the annotations on a resource.
#[derive(clap::Args, Debug)]
pub struct Annotate {
    /// TYPE NAME KEY=VAL ... KEY- ... (or TYPE/NAME).
    #[arg(required = true)]
    pub args: Vec<String>,
    #[arg(long = "overwrite")]
    pub overwrite: bool,
    #[command(flatten)]
    pub selector: Selector,
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
            self.selector.get(),
            self.all,
            self.list,
        )
        .await
    }
}
