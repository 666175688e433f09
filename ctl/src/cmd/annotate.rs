//! `miniktl annotate`: add, change (`--overwrite`) or remove (`key-`)
//! annotations — kubectl annotate. The editing is `crate::metadata_edit`'s,
//! shared with `label`.

use crate::context::Ctx;
use crate::error::Result;
use crate::metadata_edit::{edit_metadata, Edits, MetaField};

/// Update the annotations on a resource.
#[derive(clap::Args, Debug)]
pub struct Annotate {
    #[command(flatten)]
    pub edits: Edits,
}

impl Annotate {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        edit_metadata(ctx, MetaField::Annotations, &self.edits).await
    }
}
