//! `miniktl autoscale`: create an autoscaling/v2 HorizontalPodAutoscaler
//! for a deployment, replica set or stateful set — kubectl autoscale.

use serde_json::json;

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::{DryRunFlag, Output};
use crate::generate::create_object;
use crate::resources;

/// Auto-scale a deployment, replica set or stateful set.
#[derive(clap::Args, Debug)]
pub struct Autoscale {
    /// TYPE NAME or TYPE/NAME.
    #[arg(required = true)]
    pub args: Vec<String>,
    #[arg(long = "min", default_value_t = -1, allow_hyphen_values = true)]
    pub min: i64,
    #[arg(long = "max", required = true)]
    pub max: i64,
    /// Target average CPU utilization (percent of requests).
    #[arg(long = "cpu-percent", default_value_t = -1, allow_hyphen_values = true)]
    pub cpu_percent: i64,
    /// The autoscaler's name (default: the target's).
    #[arg(long = "name")]
    pub name: Option<String>,
    #[command(flatten)]
    pub dry_run: DryRunFlag,
    #[command(flatten)]
    pub output: Output,
}

impl Autoscale {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let dry = self.dry_run.parse()?;
        let format = self.output.format()?;
        let (info, name) = resources::one_target(&self.args, "autoscale")?;
        if !info.has_subresource("scale") {
            return Err(Error::Usage(format!(
                "cannot autoscale a {}: it has no scale subresource",
                info.kind
            )));
        }
        if self.max < 1 || (self.min > self.max) {
            return Err(Error::Usage(
                "--max=MAXPODS is required and must be at least 1 and at least --min".into(),
            ));
        }
        let ns = ctx.namespace().await?;
        // The target must exist, as kubectl checks.
        ctx.get(info, &ns, &name).await?;
        let mut hpa = json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"creationTimestamp": null, "name": self.name.clone().unwrap_or_else(|| name.clone())},
            "spec": {
                "scaleTargetRef": {"apiVersion": info.api_version(), "kind": info.kind, "name": name},
                "maxReplicas": self.max,
            },
            "status": {"currentMetrics": null, "desiredReplicas": 0}
        });
        if self.min >= 0 {
            hpa["spec"]["minReplicas"] = json!(self.min);
        }
        if self.cpu_percent >= 0 {
            hpa["spec"]["metrics"] = json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": self.cpu_percent}}}]);
        }
        create_object(ctx, hpa, dry, format.as_ref(), false, "autoscaled").await
    }
}
