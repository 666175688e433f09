//! `miniktl debug`: start an ephemeral container in a running pod — kubectl
//! debug's default mode. The container is added through the
//! `pods/ephemeralcontainers` subresource (named `debugger-xxxxx` unless
//! `-c` names it), joins the pod's network and, with `--target`, the
//! process namespace of that container; with `-i` miniktl attaches to it
//! once it runs. (`--copy-to` and node debugging are not offered.)

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::Streams;
use crate::pod_pick::pick_pod;
use crate::resources;
use crate::url::resource_path;

/// How long to wait for the debug container to start.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Create a debugging session in a pod (an ephemeral container).
#[derive(clap::Args, Debug)]
pub struct Debug {
    /// The pod (POD or pod/POD).
    pub target: String,
    /// The debug container's image.
    #[arg(long, required = true)]
    pub image: String,
    /// The debug container's name (default debugger-xxxxx).
    #[arg(short = 'c', long = "container")]
    pub container: Option<String>,
    /// The container whose processes it shares.
    #[arg(long = "target")]
    pub target_container: Option<String>,
    #[command(flatten)]
    pub streams: Streams,
    /// The command and its arguments, after `--`.
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// `debugger-` and five random lower-case letters or digits (kubectl's).
fn generated_name() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let suffix: String = (0..5)
        .map(|_| ALPHABET[rand::random::<u8>() as usize % ALPHABET.len()] as char)
        .collect();
    format!("debugger-{suffix}")
}

/// The debug container's state, once it runs or has ended.
fn started(pod: &Value, name: &str) -> Option<bool> {
    let status = pod
        .pointer("/status/ephemeralContainerStatuses")?
        .as_array()?
        .iter()
        .find(|s| s["name"] == json!(name))?;
    if status.pointer("/state/running").is_some() {
        Some(true)
    } else if status.pointer("/state/terminated").is_some() {
        Some(false)
    } else {
        None
    }
}

impl Debug {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let ns = ctx.namespace().await?;
        let pod = pick_pod(ctx, &ns, &self.target, false).await?;
        let name = minik_api::meta::name(&pod).to_string();
        let container = match &self.container {
            Some(c) => c.clone(),
            None => {
                let c = generated_name();
                if !self.streams.quiet {
                    ctx.eprint(&format!("Defaulting debug container name to {c}.\n"));
                }
                c
            }
        };
        let mut ephemeral = json!({
            "name": container,
            "image": self.image,
            "imagePullPolicy": "IfNotPresent",
            "terminationMessagePolicy": "File",
            "stdin": self.streams.stdin,
            "tty": self.streams.tty,
        });
        if !self.command.is_empty() {
            ephemeral["command"] = json!(self.command);
        }
        if let Some(t) = &self.target_container {
            ephemeral["targetContainerName"] = json!(t);
            if !self.streams.quiet {
                ctx.eprint(&format!("Targeting container {t:?}. If you don't see processes from this container it may be because the container runtime doesn't support this feature.\n"));
            }
        }
        let info = resources::resolve("pods")?;
        let path = resource_path(info, Some(&ns), Some(&name), Some("ephemeralcontainers"));
        let patch = json!({"spec": {"ephemeralContainers": [ephemeral]}});
        ctx.raw_strategic_patch(&path, &patch).await?;
        if !self.streams.stdin {
            return Ok(());
        }
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let pod = ctx.get(info, &ns, &name).await?;
            match started(&pod, &container) {
                Some(true) => break,
                // It ran and ended before we could attach: show what it said.
                Some(false) => {
                    let logs = resource_path(info, Some(&ns), Some(&name), Some("log"));
                    let text = ctx
                        .raw_text(&format!("{logs}?container={container}"))
                        .await?;
                    ctx.print(&text);
                    return Ok(());
                }
                None if Instant::now() >= deadline => {
                    return Err(Error::Timeout(format!(
                        "timed out waiting for the debug container {container} to start"
                    )))
                }
                None => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
        // Only with -i does it get here.
        crate::session::attach(ctx, &ns, &name, &container, self.streams).await
    }
}
