//! endpoints controller (being built).

use std::sync::Arc;

use crate::Context;

pub async fn run(_ctx: Arc<Context>) -> anyhow::Result<()> {
    Ok(())
}
