//! `miniktl label`: add, change (`--overwrite`) or remove (`key-`) labels
//! on objects — kubectl label. The editing is `crate::metadata_edit`'s,
//! shared with `annotate`.

use crate::context::Ctx;
use crate::error::Result;
use crate::metadata_edit::{edit_metadata, Edits, MetaField};

/// Update the labels on a resource.
#[derive(clap::Args, Debug)]
pub struct Label {
    #[command(flatten)]
    pub edits: Edits,
}

impl Label {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        edit_metadata(ctx, MetaField::Labels, &self.edits).await
    }
}
