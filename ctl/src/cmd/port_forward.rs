//! `miniktl port-forward`: listen on local ports and carry each connection
//! to a port of a pod — kubectl port-forward. `svc/NAME` and `deploy/NAME`
//! pick one of their pods; a Service's port is translated to its
//! `targetPort` on that pod.
//!
//! Each connection first tries the API server's `pods/portforward`
//! subresource (WebSocket, via kube's `Api::portforward`), like kubectl.
//! Where the API server does not serve it (minik's answers 503 until it
//! proxies to kubelets), miniktl connects straight to the pod's IP from the
//! host instead: every minik node runs on this machine, and pod IPs on the
//! cluster's Docker bridge are reachable from the host. It says which way
//! it uses.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::pod_pick::pick_pod;
use crate::resources;
use crate::value::array_at;

/// Forward one or more local ports to a pod.
#[derive(clap::Args, Debug)]
pub struct PortForward {
    /// POD or TYPE/NAME (svc/web, deploy/web).
    pub target: String,
    /// [LOCAL_PORT:]REMOTE_PORT ... (LOCAL 0 or empty: pick a free port).
    #[arg(required = true)]
    pub ports: Vec<String>,
    /// Local address to listen on.
    #[arg(long = "address", default_value = "localhost")]
    pub address: String,
}

/// 0: undecided, 1: through the API server, 2: straight to the pod IP.
const UNDECIDED: u8 = 0;
const VIA_API: u8 = 1;
const DIRECT: u8 = 2;

impl PortForward {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let ns = ctx.namespace().await?;
        let pod = pick_pod(ctx, &ns, &self.target, false).await?;
        let pod_name = minik_api::meta::name(&pod).to_string();
        let service = match resources::type_and_name(&self.target, Some("pods")) {
            Ok((info, name)) if info.kind == "Service" => Some(ctx.get(info, &ns, &name).await?),
            _ => None,
        };
        let address = if self.address == "localhost" {
            "127.0.0.1".to_string()
        } else {
            self.address.clone()
        };
        let mode = Arc::new(AtomicU8::new(UNDECIDED));
        let mut listeners = Vec::new();
        for spec in &self.ports {
            let (local, remote) = match spec.split_once(':') {
                Some((l, r)) => (l.parse::<u16>().unwrap_or(0), r),
                None => (spec.parse::<u16>().unwrap_or(0), spec.as_str()),
            };
            let mut remote_port = resolve_port(&pod, remote)?;
            if let Some(svc) = &service {
                remote_port = service_target(svc, &pod, remote_port)?;
            }
            let local = if spec.contains(':') || self.ports.len() > 1 {
                local
            } else {
                remote_port
            };
            let listener = TcpListener::bind((address.as_str(), local))
                .await
                .map_err(|e| Error::Usage(format!("unable to listen on port {local}: {e}")))?;
            let bound = listener.local_addr()?.port();
            ctx.print(&format!(
                "Forwarding from {address}:{bound} -> {remote_port}\n"
            ));
            listeners.push((listener, bound, remote_port));
        }
        let pod_ip = pod
            .pointer("/status/podIP")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let client = ctx.client().await?;
        let api: Api<Pod> = Api::namespaced(client, &ns);
        let mut tasks = Vec::new();
        for (listener, local, remote) in listeners {
            let api = api.clone();
            let pod_name = pod_name.clone();
            let pod_ip = pod_ip.clone();
            let mode = mode.clone();
            let out = ctx.io.out.clone();
            let err = ctx.io.err.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let Ok((conn, _)) = listener.accept().await else {
                        break;
                    };
                    let mut o = out.clone();
                    let _ = std::io::Write::write_all(
                        &mut o,
                        format!("Handling connection for {local}\n").as_bytes(),
                    );
                    let (api, pod_name, pod_ip, mode, err) = (
                        api.clone(),
                        pod_name.clone(),
                        pod_ip.clone(),
                        mode.clone(),
                        err.clone(),
                    );
                    let out = out.clone();
                    tokio::spawn(async move {
                        if let Err(e) =
                            forward(conn, &api, &pod_name, &pod_ip, remote, &mode, out).await
                        {
                            let mut e2 = err.clone();
                            let _ = std::io::Write::write_all(
                                &mut e2,
                                format!("error forwarding port {remote} to pod {pod_name}: {e}\n")
                                    .as_bytes(),
                            );
                        }
                    });
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        Ok(())
    }
}

/// Carries one accepted connection to the pod, choosing the way once.
async fn forward(
    mut conn: TcpStream,
    api: &Api<Pod>,
    pod: &str,
    pod_ip: &str,
    port: u16,
    mode: &AtomicU8,
    mut out: crate::io::Out,
) -> std::result::Result<(), String> {
    if mode.load(Ordering::SeqCst) != DIRECT {
        match api.portforward(pod, &[port]).await {
            Ok(mut pf) => {
                mode.store(VIA_API, Ordering::SeqCst);
                let mut upstream = pf.take_stream(port).ok_or("no stream for port")?;
                tokio::io::copy_bidirectional(&mut conn, &mut upstream)
                    .await
                    .map_err(|e| e.to_string())?;
                drop(upstream);
                let _ = pf.join().await;
                return Ok(());
            }
            Err(e) if mode.load(Ordering::SeqCst) == VIA_API => return Err(e.to_string()),
            Err(e) => {
                mode.store(DIRECT, Ordering::SeqCst);
                let why = match &e {
                    kube::Error::Api(s) => s.message.clone(),
                    other => other.to_string(),
                };
                let _ = std::io::Write::write_all(
                    &mut out,
                    format!("(pods/portforward is not available from the API server: {why}; connecting to the pod IP {pod_ip} from the host instead)\n").as_bytes(),
                );
            }
        }
    }
    if pod_ip.is_empty() {
        return Err("the pod has no IP yet".into());
    }
    let mut upstream = TcpStream::connect((pod_ip, port))
        .await
        .map_err(|e| e.to_string())?;
    tokio::io::copy_bidirectional(&mut conn, &mut upstream)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// A port number, or a container port's name.
fn resolve_port(pod: &Value, p: &str) -> Result<u16> {
    if let Ok(n) = p.parse::<u16>() {
        return Ok(n);
    }
    for c in array_at(pod, "/spec/containers") {
        for port in array_at(c, "/ports") {
            if port.get("name").and_then(Value::as_str) == Some(p) {
                return Ok(port
                    .get("containerPort")
                    .and_then(Value::as_u64)
                    .unwrap_or(0) as u16);
            }
        }
    }
    Err(Error::Usage(format!(
        "Pod '{}' does not have a named port '{p}'",
        minik_api::meta::name(pod)
    )))
}

/// A Service port → the pod port its `targetPort` names.
fn service_target(svc: &Value, pod: &Value, port: u16) -> Result<u16> {
    for sp in array_at(svc, "/spec/ports") {
        if sp.get("port").and_then(Value::as_u64) == Some(u64::from(port)) {
            return match sp.get("targetPort") {
                Some(Value::Number(n)) => Ok(n.as_u64().unwrap_or(0) as u16),
                Some(Value::String(s)) => resolve_port(pod, s),
                _ => Ok(port),
            };
        }
    }
    Err(Error::Usage(format!(
        "Service {} does not have a service port {port}",
        minik_api::meta::name(svc)
    )))
}
