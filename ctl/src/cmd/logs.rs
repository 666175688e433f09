//! `miniktl logs`: print (or follow) a container's log through the API
//! server's `pods/log` subresource, which it proxies to the pod's kubelet
//! — kubectl logs. `deploy/NAME`, `rs/NAME`, `svc/NAME`, `job/NAME` pick
//! one of the object's pods (kubectl says which); `-l` prints every
//! matching pod's log (followed concurrently with `-f`).

use kube::api::LogParams;
use serde_json::Value;

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::{parse_duration, Selector};
use crate::log_stream::print_log;
use crate::pod_pick::{choose_container, container_names, pick_pod};
use crate::resources;

/// Print the logs for a container in a pod.
#[derive(clap::Args, Debug)]
pub struct Logs {
    /// POD, or TYPE/NAME (deploy/web, rs/web-abc, svc/web, job/x).
    pub target: Option<String>,
    /// The container (default: the only one, or the first).
    #[arg(short = 'c', long = "container")]
    pub container: Option<String>,
    /// Stream new lines as they are written.
    #[arg(short = 'f', long = "follow")]
    pub follow: bool,
    /// The previous (crashed) instance's log.
    #[arg(short = 'p', long = "previous")]
    pub previous: bool,
    /// Only the last N lines (-1: all).
    #[arg(long = "tail", default_value_t = -1, allow_hyphen_values = true)]
    pub tail: i64,
    /// Only lines newer than this (e.g. 5s, 2m, 3h).
    #[arg(long = "since")]
    pub since: Option<String>,
    /// Prefix each line with its timestamp.
    #[arg(long = "timestamps")]
    pub timestamps: bool,
    // -l: the logs of every pod matching the selector.
    #[command(flatten)]
    pub selector: Selector,
    /// Every container of the pod(s).
    #[arg(long = "all-containers")]
    pub all_containers: bool,
    /// Prefix lines with [pod/NAME/CONTAINER].
    #[arg(long = "prefix")]
    pub prefix: bool,
    /// With -l -f: how many logs to follow at once.
    #[arg(long = "max-log-requests", default_value_t = 5)]
    pub max_log_requests: usize,
}

impl Logs {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let ns = ctx.namespace().await?;
        let pods: Vec<Value> = match (&self.target, self.selector.get()) {
            (Some(t), None) => vec![pick_pod(ctx, &ns, t, true).await?],
            (None, Some(sel)) => {
                let list = ctx
                    .list(resources::resolve("pods")?, Some(&ns), Some(sel), None)
                    .await?;
                if list.is_empty() {
                    ctx.eprint(&format!("No resources found in {ns} namespace.\n"));
                    return Ok(());
                }
                if self.follow && list.len() > self.max_log_requests {
                    return Err(Error::Usage(format!(
                        "you are attempting to follow {} log streams, but maximum allowed concurrency is {}, use --max-log-requests to increase the limit",
                        list.len(),
                        self.max_log_requests
                    )));
                }
                list
            }
            (Some(_), Some(_)) => {
                return Err(Error::Usage(
                    "only one of a pod name and -l may be given".into(),
                ))
            }
            (None, None) => {
                return Err(Error::Usage(
                    "expected POD or TYPE/NAME (or -l SELECTOR)".into(),
                ))
            }
        };
        let by_selector = self.selector.is_some();
        let mut streams = Vec::new();
        for pod in &pods {
            let containers = self.containers_of(ctx, pod, by_selector)?;
            for c in containers {
                streams.push((minik_api::meta::name(pod).to_string(), c));
            }
        }
        let prefix = self.prefix || (by_selector && self.all_containers);
        let prefix = prefix && (streams.len() > 1 || self.prefix);
        if self.follow && streams.len() > 1 {
            let futs = streams
                .iter()
                .map(|(p, c)| self.stream(ctx, &ns, p, c, prefix));
            for r in futures::future::join_all(futs).await {
                r?;
            }
        } else {
            for (p, c) in &streams {
                self.stream(ctx, &ns, p, c, prefix).await?;
            }
        }
        Ok(())
    }

    fn containers_of(&self, ctx: &Ctx, pod: &Value, quiet: bool) -> Result<Vec<String>> {
        if self.all_containers {
            let mut all = container_names(pod, "initContainers");
            all.extend(container_names(pod, "containers"));
            return Ok(all);
        }
        Ok(vec![choose_container(
            ctx,
            pod,
            self.container.as_deref(),
            quiet,
        )?])
    }

    async fn stream(
        &self,
        ctx: &Ctx,
        ns: &str,
        pod: &str,
        container: &str,
        prefix: bool,
    ) -> Result<()> {
        let lp = LogParams {
            container: Some(container.to_string()),
            follow: self.follow,
            previous: self.previous,
            tail_lines: (self.tail >= 0).then_some(self.tail),
            since_seconds: match &self.since {
                Some(s) => parse_duration(s)?.map(|d| d.as_secs() as i64),
                None => None,
            },
            timestamps: self.timestamps,
            ..Default::default()
        };
        let prefix = prefix.then(|| format!("[pod/{pod}/{container}] "));
        print_log(ctx, ns, pod, &lp, prefix.as_deref()).await
    }
}
