//! Shared informers: one watch and one cache per kind per process, handed
//! to every controller that needs that kind — client-go's
//! `SharedInformerFactory` + `SharedIndexInformer`.
//!
//! Without them every controller opens its own watch: kube-controller-manager
//! would watch pods once per controller. Here a component asks its
//! [`SharedInformerFactory`] for `factory.get::<Pod>()` as often as it likes
//! and always gets the same [`Informer`]: one kube-rs `watcher`, one
//! reflector [`Store`], and any number of subscribers.
//!
//! Nothing here waits forever: each watch asks the API server to end it
//! after 290 s (kube's default `timeoutSeconds`) and kube drops one that
//! stays silent longer; a failed list or watch is retried with kube's
//! default backoff (client-go's: 800 ms doubling to 30 s, with jitter, reset
//! by the first success) and relists — except 410 Gone, which relists at
//! once (client-go does too: after an API server restart every watch gets
//! it, and backing off then only delays recovery); a stalled request hits the client's read timeout
//! ([`crate::READ_TIMEOUT`] on clients from [`crate::connect`]).
//!
//! An informer's life, per (re)list:
//! 1. **list** — the watcher's `Init`, `InitApply`…, `InitDone`: the store is
//!    swapped atomically at `InitDone` (kube's `Writer`), then subscribers get
//!    `Added`/`Updated` for every listed object, `Deleted` for every cached
//!    object the list no longer has (client-go's `Replace`, so a deletion
//!    missed while the watch was down is still seen), then [`Change::Synced`];
//! 2. **watch** — each `Apply`/`Delete` updates the store, then becomes
//!    `Added`, `Updated { old, new }` or `Deleted` for every subscriber;
//! 3. on an error the informer backs off and goes back to 1 (a watch that
//!    expired with 410 Gone relists at once). From the error until the
//!    relist is in, [`Informer::is_watching`] is false: the cache may be old.
//!
//! Full informers watch their kind untyped and decode each object on its
//! own ([`typed`]): an object that does not decode is skipped, logged and
//! reported with a Warning `FailedDecode` Event, rather than failing every
//! list of its kind (as client-go's would) and stalling every controller
//! over it. The price is one more pass over each object (JSON value → type).
//!
//! Objects are cached without `metadata.managedFields`, as kube-controller-
//! manager's and kube-scheduler's informers keep them (their "trim
//! managedFields" transform, Kubernetes 1.28): no controller reads field
//! ownership, and on a pod it is a third of the JSON and more of the
//! decoded object. A controller that sends a whole object back in an update
//! without it keeps the stored entries (the API server treats a missing
//! `managedFields` as "unchanged").
//!
//! The store is always updated *before* subscribers hear of a change, so a
//! reconcile woken by a change never reads a cache older than that change.
//! Every relist re-announces every object, so a restarted component
//! reconciles everything (client-go's resync from the initial list).
//!
//! Subscribers each have an unbounded queue, as client-go's
//! `processorListener` does: a slow subscriber never holds the watch up and
//! never loses a change. A subscriber that joins after an informer has synced
//! first gets its whole cache as `Added`, then `Synced`.
//!
//! Ask for every informer, then [`SharedInformerFactory::start`] them (as
//! client-go's `factory.Start`); [`SharedInformerFactory::metadata`] views of
//! a kind the process also watches in full are served from that full
//! informer rather than from a second watch.
//!
//! Controllers plug informers into kube-rs' `Controller` with its shared-stream
//! constructors (`for_shared_stream`, `watches_shared_stream`; kube's
//! `unstable-runtime` feature), fed by [`Informer::applied`] and
//! [`Informer::touched`]. kube-rs' own shared reflector
//! (`reflector::store_shared` + `Writer::subscribe`) is not used underneath:
//! its subscribers receive only applied objects — no deletions, no previous
//! state, no end of a relist — which the endpoints controller (a pod's old
//! labels), the ReplicaSet expectations (added vs. updated), the garbage
//! collector and the kubelet (deletions missed during a relist) all need.
//!
//! Where minik simplifies: no periodic resync timer (every object is
//! re-announced on each relist — at start, and after an error or 410 Gone —
//! not on a timer), and no indexers (a controller filters the store by
//! namespace when it needs to). A subscriber joining while a change is
//! between the store and the subscribers may see that change twice; every
//! consumer is level-triggered.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{FutureExt, Stream, StreamExt};
use kube::api::{Api, ApiResource, DynamicObject, PartialObjectMeta};
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::Lookup;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::utils::Backoff;
use kube::runtime::watcher;
use kube::Resource;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

/// The metadata of an object of any kind (what a metadata-only watch returns).
pub type Meta = PartialObjectMeta<DynamicObject>;

/// One change to one object, as an informer's subscribers see it
/// (client-go's `OnAdd`, `OnUpdate(old, new)`, `OnDelete`).
#[derive(Debug)]
pub enum Change<K> {
    Added(Arc<K>),
    Updated {
        old: Arc<K>,
        new: Arc<K>,
    },
    /// The last known state of an object that is gone (also for objects a
    /// relist no longer lists: client-go's `DeletedFinalStateUnknown`).
    Deleted(Arc<K>),
    /// A (re)list is complete: the store holds every object, and every
    /// change of that list has been delivered (`HasSynced`).
    Synced,
}

impl<K> Clone for Change<K> {
    fn clone(&self) -> Self {
        match self {
            Change::Added(k) => Change::Added(k.clone()),
            Change::Updated { old, new } => Change::Updated {
                old: old.clone(),
                new: new.clone(),
            },
            Change::Deleted(k) => Change::Deleted(k.clone()),
            Change::Synced => Change::Synced,
        }
    }
}

impl<K> Change<K> {
    /// The object as it is now (added or updated), if it still exists.
    pub fn applied(self) -> Option<Arc<K>> {
        match self {
            Change::Added(k) | Change::Updated { new: k, .. } => Some(k),
            _ => None,
        }
    }

    /// The object the change is about: its new state, or its last state if deleted.
    pub fn touched(self) -> Option<Arc<K>> {
        match self {
            Change::Added(k) | Change::Updated { new: k, .. } | Change::Deleted(k) => Some(k),
            Change::Synced => None,
        }
    }

    /// The last state of a deleted object.
    pub fn deleted(self) -> Option<Arc<K>> {
        match self {
            Change::Deleted(k) => Some(k),
            _ => None,
        }
    }
}

/// What a kind needs to be informed about (kube's watcher and reflector bounds).
pub trait Informable: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static
where
    Self::DynamicType: Clone + Eq + Hash + Send + Sync,
{
}
impl<K> Informable for K
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Clone + Eq + Hash + Send + Sync,
{
}

/// The watch and cache of one kind (with one set of selectors), shared by
/// every part of the process that asks for it. Cheap to clone.
pub struct Informer<K: Resource + 'static>
where
    K::DynamicType: Eq + Hash + Clone,
{
    shared: Arc<Shared<K>>,
}

impl<K: Resource + 'static> Clone for Informer<K>
where
    K::DynamicType: Eq + Hash + Clone,
{
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

struct Shared<K: Resource + 'static>
where
    K::DynamicType: Eq + Hash + Clone,
{
    /// What this informer watches, for logs (`/api/v1/pods?fieldSelector=…`).
    describe: String,
    store: Store<K>,
    dyntype: K::DynamicType,
    /// Subscribers, and whether the first list has been delivered to them.
    listeners: Mutex<Listeners<K>>,
    /// Whether the store is current: false from a failed list or watch
    /// until the relist after it is in (and before the first list).
    watching: AtomicBool,
    /// Completed (re)lists so far.
    lists: AtomicU64,
    /// Set once the first list is in (see [`Synced`]).
    synced: tokio::sync::watch::Sender<bool>,
}

struct Listeners<K> {
    synced: bool,
    senders: Vec<mpsc::UnboundedSender<Change<K>>>,
}

impl<K> Informer<K>
where
    K: Informable,
    K::DynamicType: Clone + Eq + Hash + Send + Sync,
{
    fn new(describe: String, dyntype: K::DynamicType) -> (Self, Writer<K>) {
        let writer = Writer::new(dyntype.clone());
        let shared = Shared {
            describe,
            store: writer.as_reader(),
            dyntype,
            listeners: Mutex::new(Listeners {
                synced: false,
                senders: Vec::new(),
            }),
            watching: AtomicBool::new(false),
            lists: AtomicU64::new(0),
            synced: tokio::sync::watch::Sender::new(false),
        };
        (
            Self {
                shared: Arc::new(shared),
            },
            writer,
        )
    }

    /// An informer outside any factory, over `api` with `config`, and the
    /// future that runs it (the caller spawns it where it likes).
    pub fn standalone(
        api: Api<K>,
        config: watcher::Config,
    ) -> (Self, impl std::future::Future<Output = ()> + Send + 'static)
    where
        K::DynamicType: Default,
    {
        let dyntype = K::DynamicType::default();
        let path = K::url_path(&dyntype, None);
        let (informer, writer) = Self::new(describe(&path, &config, false), dyntype);
        let source = watcher(api, config);
        (informer.clone(), informer.run(writer, source))
    }

    /// The shared cache (read-only; `Arc<K>`s), ready once the first list is in.
    pub fn store(&self) -> Store<K> {
        self.shared.store.clone()
    }

    /// Every change from now on. A subscriber joining after the first list
    /// starts with the cache's content as `Added`, then `Synced`.
    pub fn subscribe(&self) -> impl Stream<Item = Change<K>> + Send + 'static {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut listeners = self.shared.listeners.lock().unwrap();
        if listeners.synced {
            for obj in self.shared.store.state() {
                let _ = tx.send(Change::Added(obj));
            }
            let _ = tx.send(Change::Synced);
        }
        listeners.senders.push(tx);
        tokio_stream::wrappers::UnboundedReceiverStream::new(rx)
    }

    /// A handle that says when the first list is in (client-go's
    /// `HasSynced`), which any number of tasks may wait on at once.
    pub fn synced(&self) -> Synced {
        Synced(self.shared.synced.subscribe())
    }

    /// Whether the cache is being kept current: the first list is in and no
    /// list or watch has failed since the last (re)list. While it is false
    /// the cache may be arbitrarily old — a controller that judges by how
    /// recent something is (the node lifecycle controller and its Leases)
    /// must not judge from it.
    pub fn is_watching(&self) -> bool {
        self.shared.watching.load(Ordering::SeqCst)
    }

    /// How many (re)lists have completed: a change in this number means the
    /// cache was rebuilt, possibly after a gap in which changes were missed.
    pub fn lists(&self) -> u64 {
        self.shared.lists.load(Ordering::SeqCst)
    }

    /// Objects added or updated (kube's `applied_objects`): the trigger of a
    /// `Controller::for_shared_stream` over this kind.
    pub fn applied(&self) -> impl Stream<Item = Arc<K>> + Send + 'static {
        self.subscribe()
            .filter_map(|c| std::future::ready(c.applied()))
    }

    /// Objects added, updated or deleted (kube's `touched_objects`): the
    /// trigger of `watches_shared_stream`/`owns_shared_stream`.
    pub fn touched(&self) -> impl Stream<Item = Arc<K>> + Send + 'static {
        self.subscribe()
            .filter_map(|c| std::future::ready(c.touched()))
    }

    /// Runs the informer over `source` (a watcher, or a projection of
    /// another informer) until it ends.
    async fn run<S>(self, mut writer: Writer<K>, source: S)
    where
        S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
    {
        let mut source = std::pin::pin!(source);
        let mut backoff = watcher::DefaultBackoff::default();
        let mut last_failed = false;
        let mut last_gone = false;
        while let Some(event) = source.next().await {
            let mut event = match event {
                Ok(event) => {
                    if last_failed {
                        backoff.reset();
                        (last_failed, last_gone) = (false, false);
                    }
                    event
                }
                Err(error) => {
                    self.shared.watching.store(false, Ordering::SeqCst);
                    // 410 Gone is a healthy server asking for a relist:
                    // relist at once, as client-go does (a restarted API
                    // server answers every old watch so); anything else
                    // (and a second 410 in a row) backs off first. The
                    // watcher is lazy: not polling it is the backoff.
                    let gone = is_gone(&error);
                    let delay = if gone && !last_gone {
                        Duration::ZERO
                    } else {
                        backoff.next().unwrap_or(MAX_BACKOFF)
                    };
                    (last_failed, last_gone) = (true, gone);
                    tracing::warn!(watch = %self.shared.describe, %error, ?delay, "watch failed; relisting");
                    tokio::time::sleep(delay).await;
                    continue;
                }
            };
            if let watcher::Event::InitApply(obj)
            | watcher::Event::Apply(obj)
            | watcher::Event::Delete(obj) = &mut event
            {
                obj.meta_mut().managed_fields = None;
            }
            let changes = match &event {
                // A list fills the writer's buffer; the store keeps its
                // previous content until `InitDone` swaps the two.
                watcher::Event::Init | watcher::Event::InitApply(_) => {
                    writer.apply_watcher_event(&event);
                    Vec::new()
                }
                watcher::Event::InitDone => {
                    let before = self.shared.store.state();
                    writer.apply_watcher_event(&event);
                    self.shared.lists.fetch_add(1, Ordering::SeqCst);
                    self.shared.watching.store(true, Ordering::SeqCst);
                    self.shared.synced.send_replace(true);
                    self.relisted(before)
                }
                watcher::Event::Apply(obj) => {
                    let old = self.shared.store.get(&self.key(obj));
                    writer.apply_watcher_event(&event);
                    let new = self.shared.store.get(&self.key(obj));
                    match (old, new) {
                        (Some(old), Some(new)) => vec![Change::Updated { old, new }],
                        (None, Some(new)) => vec![Change::Added(new)],
                        _ => Vec::new(),
                    }
                }
                watcher::Event::Delete(obj) => {
                    let old = self.shared.store.get(&self.key(obj));
                    writer.apply_watcher_event(&event);
                    vec![Change::Deleted(
                        old.unwrap_or_else(|| Arc::new(obj.clone())),
                    )]
                }
            };
            if !changes.is_empty() {
                self.notify(changes);
            }
        }
    }

    /// The changes a completed list (now in the store) makes to what the
    /// store held before it.
    fn relisted(&self, before: Vec<Arc<K>>) -> Vec<Change<K>> {
        let mut old: HashMap<ObjectRef<K>, Arc<K>> =
            before.into_iter().map(|o| (self.key(&o), o)).collect();
        let listed = self.shared.store.state();
        let mut changes = Vec::with_capacity(listed.len() + 1);
        for new in listed {
            let key = self.key(&new);
            match old.remove(&key) {
                // Same name, new uid: the old object is gone, a new one came.
                Some(prev) if prev.meta().uid != new.meta().uid => {
                    changes.push(Change::Deleted(prev));
                    changes.push(Change::Added(new));
                }
                Some(prev) => changes.push(Change::Updated { old: prev, new }),
                None => changes.push(Change::Added(new)),
            }
        }
        changes.extend(old.into_values().map(Change::Deleted));
        changes.push(Change::Synced);
        changes
    }

    fn notify(&self, changes: Vec<Change<K>>) {
        let mut listeners = self.shared.listeners.lock().unwrap();
        if changes.iter().any(|c| matches!(c, Change::Synced)) {
            listeners.synced = true;
        }
        // A subscriber whose receiver is gone is forgotten.
        listeners
            .senders
            .retain(|tx| changes.iter().all(|c| tx.send(c.clone()).is_ok()));
    }

    fn key(&self, obj: &K) -> ObjectRef<K> {
        obj.to_object_ref(self.shared.dyntype.clone())
    }
}

/// Whether an informer's first list is in (client-go's `HasSynced`); wait on
/// it before reading the informer's store (`WaitForCacheSync`).
///
/// Use this, not kube's `Store::wait_until_ready`, from reconciles: every
/// reader of a kube store shares one `oneshot` receiver, which remembers only
/// the waker of the last task (or future) that polled it. Reconciles run as
/// futures of one `FuturesUnordered` inside kube's `Controller`, so when
/// several waited at once only one was ever woken; the others hung for good
/// and held the controller's concurrency slots — a restarted
/// controller-manager then never synced some Deployments.
#[derive(Clone)]
pub struct Synced(tokio::sync::watch::Receiver<bool>);

impl Synced {
    /// Returns once the first list is in (at once if it already is, or if
    /// the informer is gone).
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|synced| *synced).await;
    }

    pub fn is_synced(&self) -> bool {
        *self.0.borrow()
    }
}

/// Waits until every one of `informers` has its first list in.
pub async fn wait_for_cache_sync(informers: &[Synced]) {
    for s in informers {
        s.wait().await;
    }
}

/// An informer not yet started: what `start` needs to run it.
type Pending =
    Box<dyn FnOnce(&SharedInformerFactory) -> futures::future::BoxFuture<'static, ()> + Send>;

/// A full informer's changes as a metadata watch's events.
type MetaSource = futures::stream::BoxStream<'static, Result<watcher::Event<Meta>, watcher::Error>>;
type Projection = Arc<dyn Fn() -> MetaSource + Send + Sync>;

/// Hands out one [`Informer`] per kind (and selectors) for the whole
/// process, then runs them all (client-go's `SharedInformerFactory`).
pub struct SharedInformerFactory {
    client: kube::Client,
    /// Reports objects the informers cannot decode (see [`typed`]).
    recorder: crate::EventRecorder,
    inner: Mutex<FactoryState>,
}

/// The informers stop with their factory (a controller-manager, or a
/// controller in a test, that goes away takes its watches with it).
impl Drop for SharedInformerFactory {
    fn drop(&mut self) {
        for task in &self.inner.get_mut().unwrap().tasks {
            task.abort();
        }
    }
}

#[derive(Default)]
struct FactoryState {
    /// (full or metadata, URL path + selectors) → `Informer<K>`.
    informers: HashMap<(TypeId, String), Box<dyn Any + Send + Sync>>,
    /// Informers asked for but not started, in the order they were asked for.
    pending: Vec<(String, Pending)>,
    /// Every unfiltered full informer, by URL path, as a metadata source.
    projections: HashMap<String, Projection>,
    /// The watches actually opened (metadata views served from a full
    /// informer open none).
    opened: Vec<String>,
    /// The running informers' tasks.
    tasks: Vec<tokio::task::AbortHandle>,
    started: bool,
}

impl SharedInformerFactory {
    pub fn new(client: kube::Client) -> Self {
        Self {
            recorder: crate::EventRecorder::new(client.clone(), "shared-informer", None),
            client,
            inner: Mutex::default(),
        }
    }

    /// The same factory, its decoding-failure Events reported as `component`
    /// (e.g. "kube-controller-manager").
    pub fn reporting_as(mut self, component: &str) -> Self {
        self.recorder = crate::EventRecorder::new(self.client.clone(), component, None);
        self
    }

    /// The informer over every `K` in the cluster.
    pub fn get<K>(&self) -> Informer<K>
    where
        K: Informable<DynamicType = ()>,
    {
        self.get_with(watcher::Config::default())
    }

    /// The informer over every `K` matching `config`'s label and field
    /// selectors (client-go's filtered factory). Informers with different
    /// selectors are different watches.
    pub fn get_with<K>(&self, config: watcher::Config) -> Informer<K>
    where
        K: Informable<DynamicType = ()>,
    {
        let path = K::url_path(&(), None);
        let filtered = config.label_selector.is_some() || config.field_selector.is_some();
        let describe = describe(&path, &config, false);
        // Watched untyped, decoded one object at a time: one object that
        // does not decode is skipped (and reported) instead of failing
        // every list of its kind.
        let api =
            Api::<DynamicObject>::all_with(self.client.clone(), &ApiResource::erase::<K>(&()));
        let opened = describe.clone();
        let recorder = self.recorder.clone();
        let informer = self.informer(
            TypeId::of::<K>(),
            describe.clone(),
            (),
            move |informer, writer, factory| {
                factory.opened(opened);
                let on_error = report_to(
                    recorder,
                    describe,
                    K::api_version(&()).into(),
                    K::kind(&()).into(),
                );
                let source = typed::<K>(watcher(api, config), on_error);
                informer.run(writer, source).boxed()
            },
        );
        if !filtered {
            let full = informer.clone();
            let projection: Projection = Arc::new(move || project(&full));
            let mut state = self.inner.lock().unwrap();
            state.projections.entry(path).or_insert(projection);
        }
        informer
    }

    /// The metadata of every object of `resource` (what the garbage
    /// collector reads), without labels and annotations: its readers (the
    /// collector's ownership graph, quota's recounts) read neither, and a
    /// pod's labels alone were ~20 MB of the controller-manager at 30,000
    /// pods (kube's metadata informers keep the whole ObjectMeta). If this
    /// process also has a full informer for that kind when
    /// [`start`](Self::start) runs, the metadata is taken from it instead of
    /// from a second watch.
    pub fn metadata(&self, resource: &ApiResource) -> Informer<Meta> {
        let path = Meta::url_path(resource, None);
        let describe = describe(&path, &watcher::Config::default(), true);
        let path = path.to_string();
        let api: Api<Meta> = Api::all_with(self.client.clone(), resource);
        let opened = describe.clone();
        self.informer(
            TypeId::of::<Meta>(),
            describe,
            resource.clone(),
            move |informer, writer, factory| {
                let projection = factory
                    .inner
                    .lock()
                    .unwrap()
                    .projections
                    .get(&path)
                    .cloned();
                match projection {
                    Some(project) => {
                        tracing::info!(%path, "metadata served from the full informer");
                        informer.run(writer, project().map(unlabelled)).boxed()
                    }
                    None => {
                        factory.opened(opened);
                        // An Api over PartialObjectMeta asks for metadata only.
                        let source = watcher(api, watcher::Config::default()).map(unlabelled);
                        informer.run(writer, source).boxed()
                    }
                }
            },
        )
    }

    fn informer<K, F>(
        &self,
        type_id: TypeId,
        describe: String,
        dyntype: K::DynamicType,
        run: F,
    ) -> Informer<K>
    where
        K: Informable,
        K::DynamicType: Clone + Eq + Hash + Send + Sync,
        F: FnOnce(
                Informer<K>,
                Writer<K>,
                &SharedInformerFactory,
            ) -> futures::future::BoxFuture<'static, ()>
            + Send
            + 'static,
    {
        let mut state = self.inner.lock().unwrap();
        let key = (type_id, describe.clone());
        if let Some(existing) = state.informers.get(&key) {
            return existing
                .downcast_ref::<Informer<K>>()
                .expect("one type per informer key")
                .clone();
        }
        let (informer, writer) = Informer::<K>::new(describe.clone(), dyntype);
        state.informers.insert(key, Box::new(informer.clone()));
        let handle = informer.clone();
        let pending: Pending = Box::new(move |factory| run(handle, writer, factory));
        state.pending.push((describe, pending));
        if state.started {
            let (describe, pending) = state.pending.pop().expect("just pushed");
            drop(state);
            self.spawn(describe, pending);
        }
        informer
    }

    /// Starts every informer asked for so far; informers asked for later
    /// start at once. Each runs on its own task until the process stops.
    pub fn start(&self) {
        let pending = {
            let mut state = self.inner.lock().unwrap();
            state.started = true;
            std::mem::take(&mut state.pending)
        };
        for (describe, run) in pending {
            self.spawn(describe, run);
        }
    }

    fn spawn(&self, describe: String, run: Pending) {
        tracing::info!(watch = %describe, "starting informer");
        let task = tokio::spawn(run(self)).abort_handle();
        self.inner.lock().unwrap().tasks.push(task);
    }

    fn opened(&self, describe: String) {
        self.inner.lock().unwrap().opened.push(describe);
    }

    /// The watches this process has opened, one line each (for logs and
    /// tests): `/api/v1/pods` appears once however many controllers read pods.
    pub fn watches(&self) -> Vec<String> {
        let mut watches = self.inner.lock().unwrap().opened.clone();
        watches.sort();
        watches
    }
}

/// What to do about an object that does not decode (log it, record an Event).
pub type OnUndecodable =
    Arc<dyn Fn(DynamicObject, String) -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

/// A watch of untyped objects as a watch of `K`: each object is decoded on
/// its own, and one that does not decode (say `"replicas": "three"`, stored
/// before the API server checked types, or by a newer version of a kind) is
/// handed to `on_error` and left out — the informer and every controller
/// over it go on with the others. (client-go instead fails the whole list
/// and retries it for ever.) A deletion that does not decode is passed on
/// with the object's metadata only, so the cache still forgets it.
pub fn typed<K>(
    source: impl Stream<Item = Result<watcher::Event<DynamicObject>, watcher::Error>> + Send + 'static,
    on_error: OnUndecodable,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static
where
    K: Informable<DynamicType = ()>,
{
    source.filter_map(move |event| {
        let on_error = on_error.clone();
        async move {
            let event = match event {
                Ok(event) => event,
                Err(e) => return Some(Err(e)),
            };
            type Rebuild<K> = fn(K) -> watcher::Event<K>;
            let (mut obj, rebuild, delete): (DynamicObject, Rebuild<K>, bool) = match event {
                watcher::Event::Init => return Some(Ok(watcher::Event::Init)),
                watcher::Event::InitDone => return Some(Ok(watcher::Event::InitDone)),
                watcher::Event::InitApply(o) => (o, watcher::Event::InitApply, false),
                watcher::Event::Apply(o) => (o, watcher::Event::Apply, false),
                watcher::Event::Delete(o) => (o, watcher::Event::Delete, true),
            };
            // Not cached (see the module's notes), so not decoded either.
            obj.metadata.managed_fields = None;
            match decode::<K>(&obj) {
                Ok(k) => Some(Ok(rebuild(k))),
                Err(error) => {
                    let deleted = if delete { meta_only::<K>(&obj) } else { None };
                    on_error(obj, error.to_string()).await;
                    deleted.map(|k| Ok(watcher::Event::Delete(k)))
                }
            }
        }
    })
}

/// Implements `kube::Resource` for a projection of `$of`: a type decoded
/// from `$of`'s JSON into only the fields its reader uses (DNS's
/// `PodAddress`, the scheduler's `AssignedPod`, the dashboard's
/// `PodSummary`, the controller-manager's `CachedPod`), listed and
/// watched at `$of`'s path under `$of`'s kind, with its `metadata` field
/// as the object's metadata.
#[macro_export]
macro_rules! projection_of {
    ($projection:ty, $of:ty) => {
        impl ::kube::Resource for $projection {
            type DynamicType = ();
            type Scope = <$of as ::kube::Resource>::Scope;

            fn kind(_: &()) -> ::std::borrow::Cow<'_, str> {
                <$of as ::kube::Resource>::kind(&())
            }
            fn group(_: &()) -> ::std::borrow::Cow<'_, str> {
                <$of as ::kube::Resource>::group(&())
            }
            fn version(_: &()) -> ::std::borrow::Cow<'_, str> {
                <$of as ::kube::Resource>::version(&())
            }
            fn plural(_: &()) -> ::std::borrow::Cow<'_, str> {
                <$of as ::kube::Resource>::plural(&())
            }
            fn meta(&self) -> &::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &self.metadata
            }
            fn meta_mut(
                &mut self,
            ) -> &mut ::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

/// For projection types' fields (`#[serde(default, deserialize_with =
/// "null_as_default")]`): an explicit `null` reads as the default, as it
/// does for k8s-openapi's `Option` fields. The API server keeps a null a
/// manifest sent (`volumes:` with nothing under it), and an object that
/// does not decode is skipped, so without this one null would hide a pod.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    use serde::Deserialize;
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The object's metadata alone, as a `K` (every kind minik informs on has
/// only optional fields besides its metadata).
fn meta_only<K: Informable<DynamicType = ()>>(obj: &DynamicObject) -> Option<K> {
    serde_json::from_value(serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": obj.metadata,
    }))
    .ok()
}

/// One untyped object as a `K`.
fn decode<K: Informable<DynamicType = ()>>(obj: &DynamicObject) -> Result<K, serde_json::Error> {
    let mut value = serde_json::to_value(obj)?;
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), K::api_version(&()).into());
        map.insert("kind".into(), K::kind(&()).into());
    }
    serde_json::from_value(value)
}

/// Logs an undecodable object and records a Warning `FailedDecode` Event about it.
fn report_to(
    recorder: crate::EventRecorder,
    watch: String,
    api_version: String,
    kind: String,
) -> OnUndecodable {
    Arc::new(move |obj: DynamicObject, error: String| {
        let recorder = recorder.clone();
        let watch = watch.clone();
        let (api_version, kind) = (api_version.clone(), kind.clone());
        async move {
            let name = obj.metadata.name.clone().unwrap_or_default();
            tracing::warn!(%watch, object = %name, namespace = ?obj.metadata.namespace, %error,
                "skipping an object that does not decode");
            let regarding = k8s_openapi::api::core::v1::ObjectReference {
                api_version: Some(api_version),
                kind: Some(kind),
                name: Some(name),
                namespace: obj.metadata.namespace.clone(),
                uid: obj.metadata.uid.clone(),
                resource_version: obj.metadata.resource_version.clone(),
                ..Default::default()
            };
            recorder
                .publish(
                    &regarding,
                    kube::runtime::events::EventType::Warning,
                    "FailedDecode",
                    format!("Skipped by the informer of {watch}: {error}"),
                )
                .await;
        }
        .boxed()
    })
}

/// The longest wait between failed lists or watches (kube's and client-go's).
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Whether a watch failed with 410 Gone (its resourceVersion is too old).
fn is_gone(error: &watcher::Error) -> bool {
    match error {
        watcher::Error::WatchError(status) => status.code == 410,
        watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => {
            crate::errors::is_gone(e)
        }
        _ => false,
    }
}

fn describe(path: &str, config: &watcher::Config, metadata: bool) -> String {
    let mut query = Vec::new();
    if let Some(l) = &config.label_selector {
        query.push(format!("labelSelector={l}"));
    }
    if let Some(f) = &config.field_selector {
        query.push(format!("fieldSelector={f}"));
    }
    if metadata {
        query.push("as=PartialObjectMetadata".into());
    }
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// A full informer's changes as the events of a metadata watch of the same
/// kind: nothing until its first list is in, then that list (from its
/// store), then each change. Its relists need no replay: the full informer
/// already reports what they changed.
fn project<K>(full: &Informer<K>) -> MetaSource
where
    K: Informable<DynamicType = ()>,
{
    let store = full.store();
    let mut listed = false;
    full.subscribe()
        .flat_map(move |change| {
            let events: Vec<watcher::Event<Meta>> = match change {
                Change::Synced if !listed => {
                    listed = true;
                    let mut events = vec![watcher::Event::Init];
                    events.extend(
                        store
                            .state()
                            .iter()
                            .map(|o| watcher::Event::InitApply(meta_of(&**o))),
                    );
                    events.push(watcher::Event::InitDone);
                    events
                }
                _ if !listed => Vec::new(),
                Change::Added(o) | Change::Updated { new: o, .. } => {
                    vec![watcher::Event::Apply(meta_of(&*o))]
                }
                Change::Deleted(o) => vec![watcher::Event::Delete(meta_of(&*o))],
                Change::Synced => Vec::new(),
            };
            futures::stream::iter(events.into_iter().map(Ok))
        })
        .boxed()
}

/// A metadata informer's event without the objects' labels and annotations.
fn unlabelled(
    mut event: Result<watcher::Event<Meta>, watcher::Error>,
) -> Result<watcher::Event<Meta>, watcher::Error> {
    if let Ok(
        watcher::Event::InitApply(meta)
        | watcher::Event::Apply(meta)
        | watcher::Event::Delete(meta),
    ) = &mut event
    {
        meta.metadata.labels = None;
        meta.metadata.annotations = None;
    }
    event
}

/// The metadata-only form of a typed object.
fn meta_of<K: Resource<DynamicType = ()>>(obj: &K) -> Meta {
    PartialObjectMeta {
        types: Some(kube::core::TypeMeta {
            api_version: K::api_version(&()).into_owned(),
            kind: K::kind(&()).into_owned(),
        }),
        metadata: obj.meta().clone(),
        _phantom: std::marker::PhantomData,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use kube::ResourceExt;

    fn pod(name: &str, uid: &str, rv: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.namespace = Some("default".into());
        p.metadata.uid = Some(uid.into());
        p.metadata.resource_version = Some(rv.into());
        p
    }

    fn summary(c: &Change<Pod>) -> String {
        match c {
            Change::Added(p) => format!("+{}", p.name_any()),
            Change::Updated { old, new } => format!(
                "~{}:{}->{}",
                new.name_any(),
                old.metadata.resource_version.as_deref().unwrap_or_default(),
                new.metadata.resource_version.as_deref().unwrap_or_default()
            ),
            Change::Deleted(p) => format!("-{}", p.name_any()),
            Change::Synced => "synced".into(),
        }
    }

    #[tokio::test]
    async fn an_object_that_does_not_decode_is_skipped_and_reported() {
        use k8s_openapi::api::apps::v1::Deployment;
        use watcher::Event::*;
        let deployment = |name: &str, replicas: serde_json::Value| -> DynamicObject {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": "default", "uid": name},
                "spec": {"replicas": replicas, "selector": {}, "template": {}},
            }))
            .unwrap()
        };
        let reported = Arc::new(Mutex::new(Vec::new()));
        let log = reported.clone();
        let on_error: OnUndecodable = Arc::new(move |obj: DynamicObject, error: String| {
            log.lock()
                .unwrap()
                .push(format!("{}: {error}", obj.metadata.name.unwrap()));
            async {}.boxed()
        });
        let events = vec![
            Init,
            InitApply(deployment("a", 1.into())),
            InitApply(deployment("bad", "three".into())),
            InitApply(deployment("c", 3.into())),
            InitDone,
            Apply(deployment("bad", "four".into())),
            Apply(deployment("a", 2.into())),
            // A deletion is applied from the metadata even if the body is bad.
            Apply(deployment("c", 3.into())),
            Delete(deployment("c", "gone".into())),
        ];
        let source =
            typed::<Deployment>(futures::stream::iter(events.into_iter().map(Ok)), on_error);
        let (informer, writer) =
            Informer::<Deployment>::new("/apis/apps/v1/deployments".into(), ());
        informer.clone().run(writer, source).await;
        let mut names: Vec<(String, i32)> = informer
            .store()
            .state()
            .iter()
            .map(|d| (d.name_any(), d.spec.as_ref().unwrap().replicas.unwrap()))
            .collect();
        names.sort();
        assert_eq!(names, [("a".to_string(), 2)]);
        let reported = reported.lock().unwrap().clone();
        assert_eq!(reported.len(), 3, "{reported:?}");
        assert!(
            reported[0].starts_with("bad: invalid type: string \"three\""),
            "{reported:?}"
        );
    }

    #[tokio::test]
    async fn lists_watches_and_relists_like_a_client_go_informer() {
        use watcher::Event::*;
        let (informer, writer) = Informer::<Pod>::new("/api/v1/pods".into(), ());
        let early = informer.subscribe();
        let events = vec![
            Init,
            InitApply(pod("a", "1", "1")),
            InitApply(pod("b", "2", "2")),
            InitDone,
            Apply(pod("a", "1", "3")),
            Apply(pod("c", "3", "4")),
            // The watch broke; the relist misses "b" and finds "a" recreated.
            Init,
            InitApply(pod("a", "4", "5")),
            InitApply(pod("c", "3", "4")),
            InitDone,
            Delete(pod("c", "3", "6")),
        ];
        let source = futures::stream::iter(events.into_iter().map(Ok));
        informer.clone().run(writer, source).await;
        let mut seen: Vec<String> = early.take(11).map(|c| summary(&c)).collect().await;
        // Within one list the order is the store's: sort each list's batch.
        seen[0..2].sort();
        seen[5..9].sort();
        assert_eq!(
            seen,
            [
                "+a", "+b", "synced", "~a:1->3", "+c", // first list, then the watch
                "+a", "-a", "-b", "~c:4->4", "synced", // the relist
                "-c",
            ]
            .map(String::from)
        );
        // A late subscriber starts from the store.
        let late: Vec<String> = informer
            .subscribe()
            .take(2)
            .map(|c| summary(&c))
            .collect()
            .await;
        assert_eq!(late, ["+a", "synced"]);
        assert_eq!(informer.store().state().len(), 1);
    }

    #[test]
    fn metadata_informers_keep_ownership_not_labels() {
        let mut p = pod("a", "uid-a", "7");
        p.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
        p.metadata.annotations = Some([("note".to_string(), "x".to_string())].into());
        p.metadata.finalizers = Some(vec!["example.com/hold".into()]);
        p.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "web".into(),
            uid: "uid-rs".into(),
            ..Default::default()
        }]);
        let Ok(watcher::Event::Apply(kept)) = unlabelled(Ok(watcher::Event::Apply(meta_of(&p))))
        else {
            panic!("an Apply stays an Apply");
        };
        let m = &kept.metadata;
        assert_eq!((m.labels.as_ref(), m.annotations.as_ref()), (None, None));
        assert_eq!(m.uid.as_deref(), Some("uid-a"));
        assert_eq!(m.resource_version.as_deref(), Some("7"));
        assert_eq!(m.owner_references, p.metadata.owner_references);
        assert_eq!(m.finalizers, p.metadata.finalizers);
    }

    #[tokio::test]
    async fn objects_are_cached_without_managed_fields() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
        use watcher::Event::*;
        let owned = |p: Pod| -> Pod {
            let mut p = p;
            p.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
                manager: Some("kubelet".into()),
                ..Default::default()
            }]);
            p
        };
        let as_dynamic = |p: Pod| -> DynamicObject {
            serde_json::from_value(serde_json::to_value(p).unwrap()).unwrap()
        };
        // Typed straight from the watch, and decoded from untyped objects.
        let (informer, writer) = Informer::<Pod>::new("/api/v1/pods".into(), ());
        let events = vec![Init, InitApply(owned(pod("a", "1", "1"))), InitDone];
        informer
            .clone()
            .run(writer, futures::stream::iter(events.into_iter().map(Ok)))
            .await;
        let on_error: OnUndecodable = Arc::new(|_, _| async {}.boxed());
        let events = vec![
            Init,
            InitApply(as_dynamic(owned(pod("b", "2", "2")))),
            InitDone,
        ];
        let source = typed::<Pod>(futures::stream::iter(events.into_iter().map(Ok)), on_error);
        let (untyped, writer) = Informer::<Pod>::new("/api/v1/pods".into(), ());
        untyped.clone().run(writer, source).await;
        for store in [informer.store(), untyped.store()] {
            let cached = store.state();
            assert_eq!(cached.len(), 1);
            assert_eq!(cached[0].metadata.managed_fields, None);
        }
    }
}
