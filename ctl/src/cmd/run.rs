//! `miniktl run`: create a pod running an image — kubectl run.
//!
//! With `-i`/`--rm` and `--restart=Never` (the tutorials' one-shot
//! `run test --rm -it --restart=Never --image=busybox -- wget -qO- http://web`),
//! miniktl waits for the pod to start, streams its output until it ends,
//! and deletes it with `--rm`. Simplification: minik serves no
//! `pods/attach`, so the container's stdin is not connected — for an
//! interactive shell, run a long-lived pod and `miniktl exec -it` into it.

use kube::api::LogParams;
use serde_json::{json, Value};

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::{DryRun, DryRunFlag, Output};
use crate::generate::create_object;
use crate::log_stream::{print_log, wait_started};
use crate::resources;

/// Run a particular image on the cluster.
#[derive(clap::Args, Debug)]
pub struct Run {
    pub name: String,
    #[arg(long = "image", required = true)]
    pub image: String,
    /// Always (default), OnFailure or Never.
    #[arg(long = "restart", default_value = "Always")]
    pub restart: String,
    #[arg(long = "port")]
    pub port: Option<i64>,
    /// KEY=VALUE (repeatable).
    #[arg(long = "env")]
    pub env: Vec<String>,
    /// k=v,k2=v2 (default run=NAME).
    #[arg(long = "labels")]
    pub labels: Option<String>,
    /// Treat the arguments after -- as the command, not args.
    #[arg(long = "command")]
    pub command_flag: bool,
    /// Keep stdin open (see the module docs: output only).
    #[arg(short = 'i', long = "stdin")]
    pub stdin: bool,
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Delete the pod when it ends.
    #[arg(long = "rm")]
    pub rm: bool,
    #[command(flatten)]
    pub dry_run: DryRunFlag,
    #[command(flatten)]
    pub output: Output,
    /// Arguments (or the command, with --command) for the container.
    #[arg(last = true)]
    pub args: Vec<String>,
}

impl Run {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let dry = self.dry_run.parse()?;
        let format = self.output.format()?;
        if self.rm && !self.stdin {
            return Err(Error::Usage(
                "--rm should only be used for attached containers (add -i)".into(),
            ));
        }
        let mut labels = serde_json::Map::new();
        match &self.labels {
            Some(l) => {
                for part in l.split(',').filter(|p| !p.is_empty()) {
                    let (k, v) = part
                        .split_once('=')
                        .ok_or_else(|| Error::Usage(format!("invalid label spec {part}")))?;
                    labels.insert(k.into(), Value::String(v.into()));
                }
            }
            None => {
                labels.insert("run".into(), Value::String(self.name.clone()));
            }
        }
        let mut container = json!({"name": self.name, "image": self.image, "resources": {}});
        if !self.args.is_empty() {
            container[if self.command_flag { "command" } else { "args" }] = json!(self.args);
        }
        if let Some(p) = self.port {
            container["ports"] = json!([{"containerPort": p}]);
        }
        if !self.env.is_empty() {
            let env: Vec<Value> = self
                .env
                .iter()
                .map(|e| {
                    let (k, v) = e.split_once('=').unwrap_or((e, ""));
                    json!({"name": k, "value": v})
                })
                .collect();
            container["env"] = json!(env);
        }
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"creationTimestamp": null, "labels": labels, "name": self.name},
            "spec": {"containers": [container], "dnsPolicy": "ClusterFirst", "restartPolicy": self.restart},
            "status": {}
        });
        let attach = self.stdin || self.tty;
        if !attach || dry != DryRun::None {
            return create_object(ctx, pod, dry, format.as_ref(), false, "created").await;
        }
        if self.restart != "Never" && self.rm {
            ctx.eprint("Note: with --restart other than Never the pod keeps running; miniktl shows its output until it first ends.\n");
        }
        let ns = ctx.namespace().await?;
        let info = resources::resolve("pods")?;
        ctx.create(info, &ns, &pod, false).await?;
        let result = self.follow(ctx, &ns).await;
        if self.rm {
            ctx.delete(info, &ns, &self.name, None, false).await?;
            ctx.print(&format!(
                "pod \"{}\" deleted from {ns} namespace\n",
                self.name
            ));
        }
        result
    }

    /// Waits for the container to start, streams its log, returns its exit.
    async fn follow(&self, ctx: &Ctx, ns: &str) -> Result<()> {
        // Wait (by watching) until the container left "waiting".
        if wait_started(ctx, ns, &self.name).await? {
            let lp = LogParams {
                follow: true,
                ..Default::default()
            };
            print_log(ctx, ns, &self.name, &lp, None).await?;
        }
        let pod = ctx.get(resources::resolve("pods")?, ns, &self.name).await?;
        let code = pod
            .pointer("/status/containerStatuses/0/state/terminated/exitCode")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if code != 0 {
            let reason = pod
                .pointer("/status/containerStatuses/0/state/terminated/reason")
                .and_then(Value::as_str)
                .unwrap_or("Error");
            ctx.eprint(&format!("pod {ns}/{} terminated ({reason})\n", self.name));
            return Err(Error::ExitCode(1));
        }
        Ok(())
    }
}
