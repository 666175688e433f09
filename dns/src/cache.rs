//! Watches of Services, EndpointSlices and Pods (only their addresses:
//! [`PodAddress`]), and the rebuild of the zone whenever one of them changes.
//!
//! Like CoreDNS's `kubernetes` plugin, which answers from client-go
//! informers: kube-rs reflectors keep a local copy of each kind, fed by a
//! list and then a watch, re-listing after an API-server restart or a 410.
//! Every change (and the end of every re-list, so stale objects vanish at
//! once) wakes one task that builds a new `Zone` snapshot and swaps it in;
//! changes that arrive during a build coalesce into one more build.
//!
//! Where minik simplifies: CoreDNS looks each query up in its informers,
//! minik answers from a snapshot rebuilt whole. A rebuild costs time in
//! proportion to the cluster (about 40 ms at 3,000 pods), so while pods
//! keep changing the builder rests [`REST_FACTOR`] times as long as its last
//! build took before the next: in a small cluster that is microseconds and
//! answers stay as fresh as before; in a burst of thousands of pods the
//! zone lags by a fraction of a second instead of the rebuilds taking a
//! core.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use minik_client::reflect;

use crate::handler::SharedZone;
use crate::pod_address::PodAddress;
use crate::zone::{Zone, ZoneSettings};

/// How many times its own duration the builder rests after a build before
/// the next: rebuilds then take at most a fifth of a core.
const REST_FACTOR: u32 = 4;

/// The longest rest, so a huge zone is still at most this stale.
const MAX_REST: Duration = Duration::from_secs(1);

/// Starts the three watches and the zone builder on `tasks`.
pub fn start(
    client: kube::Client,
    settings: ZoneSettings,
    zone: SharedZone,
    tasks: &mut JoinSet<()>,
) {
    let changed = Arc::new(Notify::new());
    let services = reflect::<Service>(Api::all(client.clone()), &changed, tasks);
    let endpoints = reflect::<EndpointSlice>(Api::all(client.clone()), &changed, tasks);
    let pods = reflect::<PodAddress>(Api::all(client), &changed, tasks);
    tasks.spawn(async move {
        let ready = futures::future::try_join3(
            services.wait_until_ready(),
            endpoints.wait_until_ready(),
            pods.wait_until_ready(),
        );
        if ready.await.is_err() {
            return;
        }
        let mut serial: u32 = 0;
        loop {
            serial = serial.wrapping_add(1);
            let started = Instant::now();
            let next = Zone::build(
                &settings,
                serial,
                &services.state(),
                &endpoints.state(),
                &pods.state(),
            );
            *zone.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(next));
            let rest = started.elapsed().saturating_mul(REST_FACTOR).min(MAX_REST);
            changed.notified().await;
            // Changes that arrive meanwhile coalesce into the next build.
            tokio::time::sleep_until((started + rest).into()).await;
        }
    });
}
