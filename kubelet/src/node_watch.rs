//! One watch of a kind for every node a kubelet process runs, each change
//! handed to the node it concerns: a node's pods (`spec.nodeName`) and its
//! Node object.
//!
//! A real kubelet is one node and watches its own pods
//! (`spec.nodeName=<node>`) and its own Node (`metadata.name=<node>`); a
//! process alone keeps those selectors. A process that simulates many
//! nodes (`--nodes 1000`) would otherwise hold a watch, a connection, a
//! cache and a task per node for each kind — a thousand of each — and the
//! API server would keep a watch per node too. Here it watches once: every
//! bound pod (`spec.nodeName!=`), every Node; a router task hands each
//! change to its node's queue, and changes of nodes the process does not
//! run are dropped (another process's pods are still cached: the price of
//! one watch).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use kube::runtime::watcher;
use minik_client::informer::Informable;
use minik_client::{Change, SharedInformerFactory};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// What a node hears about its objects of one kind.
#[derive(Debug)]
pub enum Event<K> {
    /// Added or updated.
    Changed(Arc<K>),
    /// Gone (its last known state).
    Deleted(Arc<K>),
    /// A (re)list is complete; these are all of the node's objects now.
    Listed(Vec<Arc<K>>),
}

/// Each node's queue of one kind's changes, until the node takes it.
pub struct Routes<K> {
    queues: Mutex<HashMap<String, mpsc::UnboundedReceiver<Event<K>>>>,
}

impl<K> Routes<K> {
    /// `node`'s queue (once: its pod workers or status loop own it).
    pub fn take(&self, node: &str) -> Option<mpsc::UnboundedReceiver<Event<K>>> {
        self.queues.lock().unwrap().remove(node)
    }
}

/// Watches `K` for `nodes` — with `alone` as the selector when there is one
/// node, `many` when there are more — and routes each change by `node_of`.
/// Returns the queues and the router's task.
pub fn start<K>(
    informers: &SharedInformerFactory,
    nodes: &[String],
    alone: impl FnOnce(&str) -> watcher::Config,
    many: watcher::Config,
    node_of: fn(&K) -> Option<&str>,
) -> (Routes<K>, JoinHandle<()>)
where
    K: Informable<DynamicType = ()>,
{
    let config = match nodes {
        [node] => alone(node),
        _ => many,
    };
    let informer = informers.get_with::<K>(config);
    let mut changes = informer.subscribe();
    let mut senders = HashMap::new();
    let mut queues = HashMap::new();
    for node in nodes {
        let (tx, rx) = mpsc::unbounded_channel();
        senders.insert(node.clone(), tx);
        queues.insert(node.clone(), rx);
    }
    let routes = Routes {
        queues: Mutex::new(queues),
    };
    let store = informer.store();
    let router = tokio::spawn(async move {
        // A node whose loop has stopped no longer listens: sends may fail.
        let queue = |object: &K| node_of(object).and_then(|n| senders.get(n));
        while let Some(change) = changes.next().await {
            match change {
                Change::Added(o) | Change::Updated { new: o, .. } => {
                    if let Some(tx) = queue(&o) {
                        let _ = tx.send(Event::Changed(o));
                    }
                }
                Change::Deleted(o) => {
                    if let Some(tx) = queue(&o) {
                        let _ = tx.send(Event::Deleted(o));
                    }
                }
                Change::Synced => {
                    let mut listed: HashMap<String, Vec<Arc<K>>> = HashMap::new();
                    for o in store.state() {
                        if let Some(n) = node_of(&o) {
                            listed.entry(n.to_string()).or_default().push(o.clone());
                        }
                    }
                    for (node, tx) in &senders {
                        let objects = listed.remove(node).unwrap_or_default();
                        let _ = tx.send(Event::Listed(objects));
                    }
                }
            }
        }
    });
    informers.start();
    (routes, router)
}
