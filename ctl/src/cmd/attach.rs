//! `miniktl attach`: attach to a running container's main process through
//! the `pods/attach` subresource — kubectl attach. `-i` passes stdin, `-t`
//! a TTY; output streams until the process ends or miniktl is stopped
//! (which leaves the container running).

use crate::context::Ctx;
use crate::error::Result;
use crate::flags::Streams;
use crate::pod_pick::{choose_container, pick_pod};

/// Attach to a running container.
#[derive(clap::Args, Debug)]
pub struct Attach {
    /// POD or TYPE/NAME (deploy/web picks one of its pods).
    pub target: String,
    /// The container (default: the only one, or the first).
    #[arg(short = 'c', long = "container")]
    pub container: Option<String>,
    #[command(flatten)]
    pub streams: Streams,
}

impl Attach {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let ns = ctx.namespace().await?;
        let pod = pick_pod(ctx, &ns, &self.target, false).await?;
        let name = minik_api::meta::name(&pod).to_string();
        let container = choose_container(ctx, &pod, self.container.as_deref(), self.streams.quiet)?;
        crate::session::attach(ctx, &ns, &name, &container, self.streams).await
    }
}
