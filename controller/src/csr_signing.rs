//! The CertificateSigningRequest signer (kube-controller-manager's
//! `csrsigning` controller for `kubernetes.io/kube-apiserver-client` and
//! `kubernetes.io/kubelet-serving`): an approved request is signed with
//! the cluster CA
//! (`--cluster-signing-cert-file`, `--cluster-signing-key-file`) and the
//! certificate written to `status.certificate`, valid for the requested
//! `expirationSeconds`, at most `--cluster-signing-duration` (1 year).
//! A request the signer cannot honour (usages the signer does not allow, a
//! kubelet-serving request not for `system:node:<name>` in `system:nodes`
//! or without a SAN, an unparsable request) gets a `Failed` condition
//! saying why, in the words of Kubernetes' signer.
//!
//! Requests for other signers are left to them, as in Kubernetes (minik
//! does not sign `kube-apiserver-client-kubelet`: its kubelets get their
//! client certificates from `miniktl cluster up`). Without signing files
//! the controller does not run, and approved requests stay unissued.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::ResourceExt;
use minik_client::pki::Ca;
use serde_json::json;

use crate::context::{drive, Built, RetryBackoff};
use crate::step_gate::gated;
use crate::{Context, Error};

/// The signers this controller serves.
pub const KUBE_APISERVER_CLIENT: &str = "kubernetes.io/kube-apiserver-client";
pub const KUBELET_SERVING: &str = "kubernetes.io/kubelet-serving";

/// What a client certificate may be used for (kube's signer's rule).
const CLIENT_USAGES: &[&str] = &["client auth", "digital signature", "key encipherment"];
/// What a kubelet's serving certificate may be used for.
const SERVING_USAGES: &[&str] = &["server auth", "digital signature", "key encipherment"];

struct State {
    ctx: Arc<Context>,
    ca: Ca,
    max_seconds: i64,
    retries: RetryBackoff,
}

/// Builds the signer over the shared CSR informer; without signing files
/// it waits for ever, signing nothing.
pub fn build(ctx: &Arc<Context>) -> Built {
    let Some((cert, key)) = ctx.settings.cluster_signing.clone() else {
        tracing::info!("no --cluster-signing-cert-file: CertificateSigningRequests are not signed");
        return futures::future::pending().boxed();
    };
    let ca = match std::fs::read_to_string(&cert)
        .and_then(|c| Ok((c, std::fs::read_to_string(&key)?)))
        .map_err(|e| e.to_string())
        .and_then(|(c, k)| Ca::from_pem(&c, &k).map_err(|e| e.to_string()))
    {
        Ok(ca) => ca,
        Err(e) => {
            let message = format!("reading the cluster signing CA ({}): {e}", cert.display());
            return async move { Err(anyhow::anyhow!(message)) }.boxed();
        }
    };
    let csrs = ctx.informers.get::<CertificateSigningRequest>();
    let state = Arc::new(State {
        ctx: ctx.clone(),
        ca,
        max_seconds: ctx.settings.cluster_signing_duration.as_secs() as i64,
        retries: RetryBackoff::default(),
    });
    drive(
        "certificatesigningrequest signing",
        Controller::for_shared_stream(csrs.applied(), csrs.store()).run(
            gated(
                ctx,
                "certificatesigningrequest signing",
                csrs.store(),
                reconcile,
            ),
            error_policy,
            state,
        ),
    )
    .map(Ok)
    .boxed()
}

fn error_policy(csr: Arc<CertificateSigningRequest>, error: &Error, state: Arc<State>) -> Action {
    state.retries.requeue(&*csr, error)
}

fn condition(csr: &CertificateSigningRequest, kind: &str) -> bool {
    csr.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == kind && c.status != "False"))
}

async fn reconcile(
    csr: Arc<CertificateSigningRequest>,
    state: Arc<State>,
) -> Result<Action, Error> {
    let issued = csr
        .status
        .as_ref()
        .and_then(|s| s.certificate.as_ref())
        .is_some_and(|c| !c.0.is_empty());
    let serving = csr.spec.signer_name == KUBELET_SERVING;
    if !(serving || csr.spec.signer_name == KUBE_APISERVER_CLIENT)
        || !condition(&csr, "Approved")
        || condition(&csr, "Denied")
        || condition(&csr, "Failed")
        || issued
    {
        return Ok(Action::await_change());
    }
    let api: Api<CertificateSigningRequest> = Api::all(state.ctx.client.clone());
    let name = csr.name_any();
    let usages = csr.spec.usages.clone().unwrap_or_default();
    let request = String::from_utf8_lossy(&csr.spec.request.0).to_string();
    let (needed, allowed, what) = if serving {
        ("server auth", SERVING_USAGES, "serving")
    } else {
        ("client auth", CLIENT_USAGES, "client")
    };
    let mut refused = if !usages.iter().any(|u| u == needed) {
        Some(format!("usages did not contain {needed:?}"))
    } else {
        usages
            .iter()
            .find(|u| !allowed.contains(&u.as_str()))
            .map(|u| format!("invalid usage for {what} certificate: {u}"))
    };
    if serving && refused.is_none() {
        refused = match minik_client::pki::request_subject(&request) {
            Err(e) => Some(format!("unable to parse csr: {e}")),
            Ok((cn, orgs, _)) if orgs != ["system:nodes"] => Some(format!(
                "subject organization is not system:nodes (CN {cn})"
            )),
            Ok((cn, _, _)) if !cn.starts_with("system:node:") => {
                Some("subject common name does not begin with system:node:".into())
            }
            Ok((_, _, 0)) => Some("DNS or IP subjectAltName is required".into()),
            Ok(_) => None,
        };
    }
    let seconds = csr
        .spec
        .expiration_seconds
        .map_or(state.max_seconds, |s| i64::from(s).min(state.max_seconds));
    let signed = |r: Result<String, minik_client::pki::PkiError>| {
        r.map_err(|e| format!("the request could not be signed: {e}"))
    };
    let status = match refused {
        Some(reason) => Err(reason),
        None if serving => signed(state.ca.sign_serving_request(&request, seconds)),
        None => signed(state.ca.sign_client_request(&request, seconds)),
    };
    let patch = match status {
        Ok(pem) => {
            tracing::info!(csr = %name, seconds, "signed a client certificate");
            // A ByteString is written as base64, as `status.certificate` is.
            let certificate = serde_json::to_value(k8s_openapi::ByteString(pem.into_bytes()))?;
            json!({"status": {"certificate": certificate}})
        }
        Err(message) => {
            let mut conditions: Vec<serde_json::Value> = csr
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .map(|cs| {
                    cs.iter()
                        .filter_map(|c| serde_json::to_value(c).ok())
                        .collect()
                })
                .unwrap_or_default();
            conditions.push(json!({
                "type": "Failed", "status": "True", "reason": "SignerValidationFailure",
                "message": message, "lastUpdateTime": minik_api::meta::now_rfc3339(),
                "lastTransitionTime": minik_api::meta::now_rfc3339(),
            }));
            json!({"status": {"conditions": conditions}})
        }
    };
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    state.retries.forget(&name);
    Ok(Action::requeue(Duration::from_secs(300)))
}
