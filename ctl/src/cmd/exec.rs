//! `miniktl exec`: run a command in a container through the API server's
//! `pods/exec` subresource (WebSocket, `v5.channel.k8s.io`, via kube's
//! `Api::exec`), which it proxies to the pod's kubelet — kubectl exec.
//! `-i` forwards stdin, `-t` asks for a TTY (and puts the local terminal
//! in raw mode while the command runs); the remote exit code becomes
//! miniktl's (`command terminated with exit code N`).

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};
use serde_json::Value;

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::Streams;
use crate::pod_pick::{choose_container, pick_pod};

/// Execute a command in a container.
#[derive(clap::Args, Debug)]
pub struct Exec {
    /// POD or TYPE/NAME (deploy/web picks one of its pods).
    pub target: String,
    /// The container (default: the only one, or the first).
    #[arg(short = 'c', long = "container")]
    pub container: Option<String>,
    #[command(flatten)]
    pub streams: Streams,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

impl Exec {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let ns = ctx.namespace().await?;
        let pod = pick_pod(ctx, &ns, &self.target, false).await?;
        let name = minik_api::meta::name(&pod).to_string();
        let container = choose_container(ctx, &pod, self.container.as_deref(), self.streams.quiet)?;
        if pod
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .is_some_and(|p| p == "Succeeded" || p == "Failed")
        {
            return Err(Error::Usage(format!(
                "cannot exec into a container in a completed pod; current phase is {}",
                pod.pointer("/status/phase")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            )));
        }
        let local_tty = self.streams.tty && self.streams.stdin && ctx.io.stdin_is_tty();
        if self.streams.tty && !local_tty && self.streams.stdin {
            ctx.eprint("Unable to use a TTY - input is not a terminal or the right kind of file\n");
        }
        let tty = self.streams.tty && local_tty;
        let client = ctx.client().await?;
        let api: Api<Pod> = Api::namespaced(client, &ns);
        let ap = AttachParams::default()
            .container(container)
            .stdin(self.streams.stdin)
            .stdout(true)
            .stderr(!tty)
            .tty(tty);
        let proc = match api.exec(&name, self.command.clone(), &ap).await {
            Ok(p) => p,
            Err(e) => return Err(ctx.kube_err(e).await),
        };
        crate::session::stream(ctx, proc, tty).await
    }
}
