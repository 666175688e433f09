//! `miniktl label`: add, change (`--overwrite`) or remove (`key-`) labels
//! on objects — kubectl label. The editing is `crate::metadata_edit`'s,
//! shared with `annotate`.

use crate::context::Ctx;
use crate::error::Result;
use crate::flags::Selector;
use crate::metadata_edit::{edit_metadata, MetaField};

/// Update the labels on a resource.
#[derive(clap::Args, Debug)]
pub struct Label {
    /// TYPE NAME KEY=VAL ... KEY- ... (or TYPE/NAME).
    #[arg(required = true)]
    pub args: Vec<String>,
    /// Allow changing existing values.
    #[arg(long = "overwrite")]
    pub overwrite: bool,
    #[command(flatten)]
    pub selector: Selector,
    /// Every object of the type in the namespace.
    #[arg(long = "all")]
    pub all: bool,
    /// Print the current labels instead.
    #[arg(long = "list")]
    pub list: bool,
}

impl Label {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        edit_metadata(
            ctx,
            MetaField::Labels,
            &self.args,
            self.overwrite,
            self.selector.get(),
            self.all,
            self.list,
        )
        .await
    }
}
