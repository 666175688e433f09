//! What the controllers that keep one object in every namespace share
//! (the `default` ServiceAccount, the `kube-root-ca.crt` ConfigMap): a
//! controller over Namespaces, woken too when a namespace's object of that
//! name changes or goes, retried with the usual backoff, and the test that
//! keeps them out of a namespace being deleted.

use std::future::Future;
use std::sync::Arc;

use futures::FutureExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use minik_client::informer::Informable;

use crate::context::{drive, Built, RetryBackoff};
use crate::step_gate::gated;
use crate::{Context, Error};

/// A per-namespace controller's state: its retries, at least.
pub trait Retries: Send + Sync + 'static {
    fn retries(&self) -> &RetryBackoff;
}

/// Whether the namespace is being deleted (no new objects go there).
pub fn terminating(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_some()
        || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating")
}

/// The controller reconciling each Namespace with `reconcile`, also when
/// its object of kind `K` named `name` changes.
pub fn build<K, S, F>(
    ctx: &Arc<Context>,
    label: &'static str,
    name: &'static str,
    reconcile: fn(Arc<Namespace>, Arc<S>) -> F,
    state: Arc<S>,
) -> Built
where
    K: Informable<DynamicType = ()>,
    S: Retries,
    F: Future<Output = Result<Action, Error>> + Send + 'static,
{
    let namespaces = ctx.informers.get::<Namespace>();
    let objects = ctx.informers.get::<K>();
    drive(
        label,
        Controller::for_shared_stream(namespaces.applied(), namespaces.store())
            .watches_shared_stream(objects.touched(), move |o| {
                (o.name_any() == name).then(|| ObjectRef::new(&o.namespace().unwrap_or_default()))
            })
            .run(
                gated(ctx, label, namespaces.store(), reconcile),
                error_policy,
                state,
            ),
    )
    .map(Ok)
    .boxed()
}

fn error_policy<S: Retries>(ns: Arc<Namespace>, error: &Error, state: Arc<S>) -> Action {
    state.retries().requeue(&*ns, error)
}
