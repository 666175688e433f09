//! `miniktl expose`: make a Service for a deployment, replica set, pod or
//! service, selecting its pods — kubectl expose. The port defaults to the
//! first container port; the Service copies the object's labels.

use serde_json::{json, Map, Value};

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::{DryRunFlag, Output};
use crate::generate::create_object;
use crate::resources;

/// Take a deployment, replica set, pod or service and expose it as a new Service.
#[derive(clap::Args, Debug)]
pub struct Expose {
    /// TYPE NAME or TYPE/NAME.
    #[arg(required = true)]
    pub args: Vec<String>,
    /// The port the service serves on.
    #[arg(long = "port")]
    pub port: Option<i64>,
    /// The container port (number or name) traffic goes to; default: --port.
    #[arg(long = "target-port")]
    pub target_port: Option<String>,
    /// ClusterIP, NodePort or LoadBalancer.
    #[arg(long = "type")]
    pub type_: Option<String>,
    /// The service's name (default: the exposed object's).
    #[arg(long = "name")]
    pub name: Option<String>,
    #[arg(long = "protocol")]
    pub protocol: Option<String>,
    /// Override the selector (k=v,...).
    // Not `flags::Selector`: this sets the new Service's selector (kubectl
    // expose gives it no -l); it selects nothing to act on.
    #[arg(long = "selector")]
    pub selector: Option<String>,
    #[command(flatten)]
    pub dry_run: DryRunFlag,
    #[command(flatten)]
    pub output: Output,
}

impl Expose {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let dry = self.dry_run.parse()?;
        let format = self.output.format()?;
        let (info, name) = resources::one_target(&self.args, "expose")?;
        let ns = ctx.namespace().await?;
        let obj = ctx.get(info, &ns, &name).await?;
        let (selector, pod_spec): (Map<String, Value>, Option<Value>) = match info.kind {
            "Pod" => (minik_api::meta::labels(&obj), obj.get("spec").cloned()),
            "Service" => (
                obj.pointer("/spec/selector")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
                None,
            ),
            "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" => {
                if obj
                    .pointer("/spec/selector/matchExpressions")
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty())
                {
                    return Err(Error::Usage(format!(
                        "couldn't convert expressions in the {} selector to a service selector",
                        info.singular
                    )));
                }
                (
                    obj.pointer("/spec/selector/matchLabels")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default(),
                    obj.pointer("/spec/template/spec").cloned(),
                )
            }
            other => return Err(Error::Usage(format!("cannot expose a {other}"))),
        };
        let selector = match &self.selector {
            Some(s) => s
                .split(',')
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect(),
            None => selector,
        };
        if selector.is_empty() {
            return Err(Error::Usage(format!(
                "couldn't retrieve selectors via --selector flag or introspection: the {} has none",
                info.singular
            )));
        }
        let first_port = pod_spec
            .as_ref()
            .and_then(|s| s.pointer("/containers/0/ports/0"))
            .cloned()
            .or_else(|| {
                if info.kind == "Service" {
                    obj.pointer("/spec/ports/0").cloned()
                } else {
                    None
                }
            });
        let port = match self.port {
            Some(p) => p,
            None => first_port
                .as_ref()
                .and_then(|p| p.get("containerPort").or_else(|| p.get("port")))
                .and_then(Value::as_i64)
                .ok_or_else(|| {
                    Error::Usage("couldn't find port via --port flag or introspection".into())
                })?,
        };
        let target: Value = match &self.target_port {
            Some(t) => t
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(t.clone())),
            None if info.kind == "Service" => obj
                .pointer("/spec/ports/0/targetPort")
                .cloned()
                .unwrap_or(json!(port)),
            None => json!(port),
        };
        let protocol = self
            .protocol
            .clone()
            .or_else(|| {
                first_port
                    .as_ref()
                    .and_then(|p| p.get("protocol"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "TCP".into());
        let mut svc = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"creationTimestamp": null, "name": self.name.clone().unwrap_or_else(|| name.clone())},
            "spec": {
                "ports": [{"port": port, "protocol": protocol, "targetPort": target}],
                "selector": selector,
            },
            "status": {"loadBalancer": {}}
        });
        let labels = minik_api::meta::labels(&obj);
        if !labels.is_empty() {
            svc["metadata"]["labels"] = Value::Object(labels);
        }
        if let Some(t) = &self.type_ {
            let t = match t.to_ascii_lowercase().as_str() {
                "clusterip" => "ClusterIP",
                "nodeport" => "NodePort",
                "loadbalancer" => "LoadBalancer",
                "externalname" => "ExternalName",
                _ => {
                    return Err(Error::Usage(format!(
                        "invalid service type {t}: use ClusterIP, NodePort or LoadBalancer"
                    )))
                }
            };
            svc["spec"]["type"] = json!(t);
        }
        create_object(ctx, svc, dry, format.as_ref(), false, "exposed").await
    }
}
