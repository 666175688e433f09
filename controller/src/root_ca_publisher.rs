//! The root CA publisher (Kubernetes' `pkg/controller/certificates/rootcacertpublisher`):
//! every active namespace has a ConfigMap `kube-root-ca.crt` whose
//! `ca.crt` is the CA that signed the API server's serving certificate,
//! so a pod's `kube-api-access` volume can verify `https://kubernetes.default.svc`.
//! A namespace gets it when it appears; a changed or deleted copy is put
//! back.
//!
//! The CA comes from `--root-ca-file`, or else the controller manager's
//! own kubeconfig, as in Kubernetes. Where minik simplifies: a controller
//! run in-process without either (plain-HTTP test clusters) publishes an
//! empty bundle and says so in its log.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::ResourceExt;
use minik_client::errors;

use crate::context::{Built, RetryBackoff};
use crate::per_namespace::{self, Retries};
use crate::{Context, Error};

/// The ConfigMap every namespace gets.
pub const NAME: &str = "kube-root-ca.crt";
const KEY: &str = "ca.crt";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

struct State {
    ctx: Arc<Context>,
    config_maps: Store<ConfigMap>,
    bundle: String,
    retries: RetryBackoff,
}

/// Builds the publisher over the shared Namespace and ConfigMap informers.
pub fn build(ctx: &Arc<Context>) -> Built {
    let config_maps = ctx.informers.get::<ConfigMap>();
    let bundle = ctx.settings.root_ca.clone().unwrap_or_else(|| {
        tracing::warn!(
            "no --root-ca-file and no CA in the kubeconfig: {NAME} holds an empty bundle"
        );
        String::new()
    });
    let state = Arc::new(State {
        ctx: ctx.clone(),
        config_maps: config_maps.store(),
        bundle,
        retries: RetryBackoff::default(),
    });
    per_namespace::build::<ConfigMap, _, _>(ctx, "root-ca-cert-publisher", NAME, reconcile, state)
}

impl Retries for State {
    fn retries(&self) -> &RetryBackoff {
        &self.retries
    }
}

/// Creates or corrects the namespace's `kube-root-ca.crt`.
async fn reconcile(ns: Arc<Namespace>, state: Arc<State>) -> Result<Action, Error> {
    let name = ns.name_any();
    if per_namespace::terminating(&ns) {
        return Ok(Action::await_change());
    }
    let wanted = BTreeMap::from([(KEY.to_string(), state.bundle.clone())]);
    let api: Api<ConfigMap> = Api::namespaced(state.ctx.client.clone(), &name);
    let current = state.config_maps.get(&ObjectRef::new(NAME).within(&name));
    let result = match current {
        Some(cm) if cm.data.as_ref() == Some(&wanted) => return Ok(Action::await_change()),
        Some(cm) => {
            let mut fixed = (*cm).clone();
            fixed.data = Some(wanted);
            fixed.binary_data = None;
            api.replace(NAME, &PostParams::default(), &fixed)
                .await
                .map(drop)
        }
        None => {
            let cm = ConfigMap {
                metadata: kube::api::ObjectMeta {
                    name: Some(NAME.into()),
                    annotations: Some(BTreeMap::from([(
                        "kubernetes.io/description".to_string(),
                        DESCRIPTION.to_string(),
                    )])),
                    ..Default::default()
                },
                data: Some(wanted),
                ..Default::default()
            };
            api.create(&PostParams::default(), &cm).await.map(drop)
        }
    };
    match result {
        Ok(()) => Ok(Action::await_change()),
        // The cache was behind, or the namespace went away meanwhile.
        Err(e) if errors::is_already_exists(&e) || errors::is_conflict(&e) => {
            Ok(Action::requeue(std::time::Duration::from_secs(1)))
        }
        Err(e) if errors::is_namespace_terminating(&e) || errors::is_not_found(&e) => {
            Ok(Action::await_change())
        }
        Err(e) => Err(e.into()),
    }
}
