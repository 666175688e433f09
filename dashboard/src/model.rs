//! The dashboard's view of the cluster: one shared informer per kind (the
//! same caches the controllers use; pods as [`PodSummary`], what a card
//! shows) and the newest Events ([`EventFeed`]), and every change turned
//! into a compact delta on a broadcast channel that each open page's
//! stream reads.
//!
//! A delta is `{"op":"put","o":{…}}` (added or changed: the whole compact
//! object, so deltas are idempotent) or `{"op":"del","k":…,"id":…}`. A
//! page that falls behind the channel gets a fresh snapshot instead.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Node, PersistentVolumeClaim, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use minik_client::informer::{Change, Informable, Informer};
use minik_client::SharedInformerFactory;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::compact;
use crate::event_feed::EventFeed;
use crate::pod_summary::PodSummary;

/// Deltas a page may fall behind by before it is sent a snapshot instead.
const CHANNEL: usize = 16_384;

/// The caches and the delta channel.
pub struct Model {
    /// Pods as the cards show them (not whole Pods: see `pod_summary`).
    pub pods: Informer<PodSummary>,
    pub nodes: Informer<Node>,
    pub deployments: Informer<Deployment>,
    pub replica_sets: Informer<ReplicaSet>,
    pub services: Informer<Service>,
    pub stateful_sets: Informer<StatefulSet>,
    pub claims: Informer<PersistentVolumeClaim>,
    pub slices: Informer<EndpointSlice>,
    /// The newest Events (no Event cache: see `event_feed`).
    pub feed: Arc<EventFeed>,
    /// The step-mode ConfigMap (`crate::step`).
    pub step: Informer<ConfigMap>,
    pub deltas: broadcast::Sender<Arc<str>>,
    client: kube::Client,
    /// Kept so the informers run as long as the model.
    _factory: SharedInformerFactory,
}

impl Model {
    /// Starts the watches; changes flow to [`Model::deltas`] from now on.
    pub fn start(client: kube::Client) -> Arc<Self> {
        let factory = SharedInformerFactory::new(client.clone()).reporting_as("minik-dashboard");
        let (deltas, _) = broadcast::channel(CHANNEL);
        let model = Arc::new(Model {
            pods: factory.get(),
            nodes: factory.get(),
            deployments: factory.get(),
            replica_sets: factory.get(),
            services: factory.get(),
            stateful_sets: factory.get(),
            claims: factory.get(),
            slices: factory.get(),
            feed: EventFeed::start(client.clone(), deltas.clone()),
            step: factory.get_with(crate::step::watch_config()),
            deltas,
            client,
            _factory: factory,
        });
        forward(&model.pods, &model.deltas, "pod", compact::pod);
        forward(&model.nodes, &model.deltas, "node", compact::node);
        forward(
            &model.deployments,
            &model.deltas,
            "deploy",
            compact::deployment,
        );
        forward(
            &model.replica_sets,
            &model.deltas,
            "rs",
            compact::replica_set,
        );
        forward(&model.services, &model.deltas, "svc", compact::service);
        forward(&model.slices, &model.deltas, "slice", compact::slice);
        forward(
            &model.stateful_sets,
            &model.deltas,
            "sts",
            compact::stateful_set,
        );
        forward(&model.claims, &model.deltas, "pvc", compact::claim);
        forward(&model.step, &model.deltas, "step", crate::step::compact);
        model._factory.start();
        model
    }

    /// The client the caches watch with (the controls write with it too).
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// Every cached object, compact: what a page starts from.
    pub fn snapshot(&self) -> Vec<Value> {
        let mut out = Vec::new();
        out.extend(self.nodes.store().state().iter().map(|o| compact::node(o)));
        out.extend(
            self.deployments
                .store()
                .state()
                .iter()
                .map(|o| compact::deployment(o)),
        );
        out.extend(
            self.replica_sets
                .store()
                .state()
                .iter()
                .map(|o| compact::replica_set(o)),
        );
        out.extend(
            self.services
                .store()
                .state()
                .iter()
                .map(|o| compact::service(o)),
        );
        out.extend(
            self.slices
                .store()
                .state()
                .iter()
                .map(|o| compact::slice(o)),
        );
        out.extend(
            self.stateful_sets
                .store()
                .state()
                .iter()
                .map(|o| compact::stateful_set(o)),
        );
        out.extend(
            self.claims
                .store()
                .state()
                .iter()
                .map(|o| compact::claim(o)),
        );
        out.extend(self.pods.store().state().iter().map(|o| compact::pod(o)));
        out.extend(
            self.step
                .store()
                .state()
                .iter()
                .map(|o| crate::step::compact(o)),
        );
        out.extend(self.feed.events());
        out
    }
}

/// The delta that adds or replaces a compact object on the pages.
pub fn put_delta(o: Value) -> Value {
    json!({"op": "put", "o": o})
}

/// The delta that removes object `id` of `kind` from the pages.
pub fn del_delta(kind: &str, id: &str) -> Value {
    json!({"op": "del", "k": kind, "id": id})
}

/// Hands a delta to every open page's stream.
pub fn send(deltas: &broadcast::Sender<Arc<str>>, delta: Value) {
    // No page open is not an error: the delta is simply not needed.
    let _ = deltas.send(delta.to_string().into());
}

/// Turns every change of one informer into a delta on `deltas`.
fn forward<K>(
    informer: &Informer<K>,
    deltas: &broadcast::Sender<Arc<str>>,
    kind: &'static str,
    compact: fn(&K) -> Value,
) where
    K: Informable<DynamicType = ()> + kube::ResourceExt,
{
    let mut changes = informer.subscribe();
    let deltas = deltas.clone();
    tokio::spawn(async move {
        while let Some(change) = changes.next().await {
            let delta = match change {
                Change::Added(o) | Change::Updated { new: o, .. } => put_delta(compact(&o)),
                Change::Deleted(o) => del_delta(kind, &compact::id(&*o)),
                Change::Synced => continue,
            };
            send(&deltas, delta);
        }
    });
}
