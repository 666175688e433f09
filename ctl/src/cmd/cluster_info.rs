//! `miniktl cluster-info`: where the control plane and the cluster's
//! add-on services (those labelled `kubernetes.io/cluster-service=true` in
//! kube-system, like kube-dns) are reachable — kubectl cluster-info.

use serde_json::Value;

use crate::context::Ctx;
use crate::error::Result;
use crate::resources;

/// Display addresses of the control plane and cluster services.
#[derive(clap::Args, Debug)]
pub struct ClusterInfo {}

impl ClusterInfo {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let server = ctx.server().await?;
        let server = server.trim_end_matches('/').to_string();
        // Fails with "connection refused" guidance when the cluster is down.
        let client = ctx.client().await?;
        if let Err(e) = client.apiserver_version().await {
            return Err(ctx.kube_err(e).await);
        }
        let mut out = format!("Kubernetes control plane is running at {server}\n");
        let services = ctx
            .list(
                resources::resolve("services")?,
                Some("kube-system"),
                Some("kubernetes.io/cluster-service=true"),
                None,
            )
            .await
            .unwrap_or_default();
        for svc in services {
            let name = minik_api::meta::name(&svc);
            let title = svc
                .pointer("/metadata/labels/kubernetes.io~1name")
                .and_then(Value::as_str)
                .unwrap_or(name)
                .to_string();
            let port = svc
                .pointer("/spec/ports/0")
                .map(|p| {
                    p.get("name")
                        .and_then(Value::as_str)
                        .map(|n| format!("{name}:{n}"))
                        .unwrap_or_else(|| name.to_string())
                })
                .unwrap_or_else(|| name.to_string());
            out.push_str(&format!(
                "{title} is running at {server}/api/v1/namespaces/kube-system/services/{port}/proxy\n"
            ));
        }
        out.push_str("\nTo further debug and diagnose cluster problems, use 'miniktl cluster status' and the logs under $MINIK_HOME/logs.\n");
        ctx.print(&out);
        Ok(())
    }
}
