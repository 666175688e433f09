//! Lease-based leader election, as client-go's `leaderelection` package
//! runs it for kube-controller-manager and kube-scheduler: of several
//! copies of a component, only the one holding the `coordination.k8s.io`
//! Lease `kube-system/<component>` acts; the others wait to take over.
//!
//! - A candidate tries every `retry_period` to create the Lease, or to take
//!   it over once it has seen no change to it for `lease_duration` (time is
//!   measured on the candidate's own clock from when it last saw the record
//!   change, as client-go does, so clock skew between machines does not
//!   matter). Every write carries the resourceVersion it read: two
//!   candidates cannot both win.
//! - The leader renews every `retry_period`; if no renewal succeeds for
//!   `renew_deadline` it has lost the lease and [`LeaderElection::run`]
//!   returns an error — the component exits, as Kubernetes' do
//!   ("leaderelection lost"), rather than risk acting beside a new leader.
//! - Taking the lease records a `LeaderElection` Event (`<identity> became
//!   leader`) on it, and bumps `spec.leaseTransitions` when the holder
//!   changes.
//!
//! Where minik simplifies: no `ReleaseOnCancel` (a stopped leader's lease
//! simply expires), and only Lease locks (no ConfigMap/Endpoints locks).

use std::future::Future;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};

use crate::events::{EventRecorder, EventType};

/// The `--leader-elect*` flags of kube-controller-manager and kube-scheduler.
#[derive(Debug, Clone, clap::Args)]
pub struct LeaderElectionArgs {
    /// Run only while holding the Lease kube-system/<component>, so that of
    /// several copies only one acts. Kubernetes' default is on; minik's is
    /// off, as a single copy need not wait for its old lease after a crash.
    #[arg(long, default_value_t = false, num_args = 0..=1, default_missing_value = "true",
          action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// How long a lease nobody renews is left before another copy takes it.
    #[arg(long, default_value = "15s", value_parser = crate::leader_election::parse_duration)]
    pub leader_elect_lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up (and exits).
    #[arg(long, default_value = "10s", value_parser = crate::leader_election::parse_duration)]
    pub leader_elect_renew_deadline: Duration,
    /// How often candidates try to take the lease and the leader renews it.
    #[arg(long, default_value = "2s", value_parser = crate::leader_election::parse_duration)]
    pub leader_elect_retry_period: Duration,
}

/// A Go duration (`15s`, `1m30s`), as Kubernetes' flags take them.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    minik_api::duration::parse_go_duration(s).and_then(|d| {
        if d.is_zero() {
            Err("must be greater than 0".into())
        } else {
            Ok(d)
        }
    })
}

/// One candidate for one lease.
#[derive(Debug, Clone)]
pub struct LeaderElection {
    pub namespace: String,
    pub name: String,
    /// Who this candidate is (`<hostname>_<uuid>`, as client-go's components).
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

/// What a candidate last saw of the lease, and when (on its own clock).
struct Observed {
    spec: Option<LeaseSpec>,
    at: Instant,
}

impl LeaderElection {
    /// A candidate for `kube-system/<name>` with the flags' timings.
    pub fn new(name: &str, args: &LeaderElectionArgs) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into());
        Self {
            namespace: "kube-system".into(),
            name: name.into(),
            identity: format!("{host}_{}", uuid::Uuid::new_v4()),
            lease_duration: args.leader_elect_lease_duration,
            renew_deadline: args.leader_elect_renew_deadline,
            retry_period: args.leader_elect_retry_period,
        }
    }

    /// Waits until this candidate holds the lease, then runs `work` while
    /// renewing it. Returns `work`'s result, or an error once the lease is
    /// lost (the caller should exit).
    pub async fn run<T>(
        &self,
        client: kube::Client,
        work: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        let leases: Api<Lease> = Api::namespaced(client.clone(), &self.namespace);
        let mut observed = Observed {
            spec: None,
            at: Instant::now(),
        };
        tracing::info!(lease = %format!("{}/{}", self.namespace, self.name), identity = %self.identity, "attempting to acquire the leader lease");
        loop {
            match self.try_acquire_or_renew(&leases, &mut observed).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => tracing::debug!(error = %e, "leader lease not acquired"),
            }
            tokio::time::sleep(self.retry_period).await;
        }
        tracing::info!(identity = %self.identity, lease = %self.name, "successfully acquired lease");
        EventRecorder::new(client, &self.name, Some(&self.identity))
            .publish(
                &ObjectReference {
                    api_version: Some("coordination.k8s.io/v1".into()),
                    kind: Some("Lease".into()),
                    namespace: Some(self.namespace.clone()),
                    name: Some(self.name.clone()),
                    ..Default::default()
                },
                EventType::Normal,
                "LeaderElection",
                format!("{} became leader", self.identity),
            )
            .await;
        let renew = async {
            let mut last_renewed = Instant::now();
            loop {
                tokio::time::sleep(self.retry_period).await;
                match self.try_acquire_or_renew(&leases, &mut observed).await {
                    Ok(true) => last_renewed = Instant::now(),
                    Ok(false) => {
                        return anyhow::anyhow!("leaderelection lost: another holder has the lease")
                    }
                    Err(e) => tracing::warn!(error = %e, "failed to renew the leader lease"),
                }
                if last_renewed.elapsed() >= self.renew_deadline {
                    return anyhow::anyhow!(
                        "leaderelection lost: no renewal within {:?}",
                        self.renew_deadline
                    );
                }
            }
        };
        tokio::select! {
            result = work => result,
            lost = renew => {
                tracing::error!(identity = %self.identity, "{lost}");
                Err(lost)
            }
        }
    }

    /// One round of client-go's `tryAcquireOrRenew`: true if this candidate
    /// holds the lease afterwards.
    async fn try_acquire_or_renew(
        &self,
        leases: &Api<Lease>,
        observed: &mut Observed,
    ) -> anyhow::Result<bool> {
        let now = MicroTime(Timestamp::now());
        let seconds = self.lease_duration.as_secs().max(1) as i32;
        let Some(current) = leases.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    namespace: Some(self.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            let created = leases.create(&PostParams::default(), &lease).await?;
            *observed = Observed {
                spec: created.spec,
                at: Instant::now(),
            };
            return Ok(true);
        };
        let spec = current.spec.clone().unwrap_or_default();
        if observed.spec.as_ref() != Some(&spec) {
            *observed = Observed {
                spec: Some(spec.clone()),
                at: Instant::now(),
            };
        }
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let mine = holder == self.identity;
        let held_duration = spec
            .lease_duration_seconds
            .map(|s| Duration::from_secs(s.max(0) as u64))
            .unwrap_or(self.lease_duration);
        if !mine && !holder.is_empty() && observed.at.elapsed() < held_duration {
            return Ok(false);
        }
        let mut next = spec.clone();
        next.holder_identity = Some(self.identity.clone());
        next.lease_duration_seconds = Some(seconds);
        next.renew_time = Some(now.clone());
        if !mine {
            next.acquire_time = Some(now);
            next.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        let mut lease = current;
        lease.spec = Some(next);
        // The resourceVersion read above makes this a compare-and-swap.
        let replaced = leases
            .replace(&self.name, &PostParams::default(), &lease)
            .await?;
        *observed = Observed {
            spec: replaced.spec,
            at: Instant::now(),
        };
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("15s").unwrap(), Duration::from_secs(15));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("5x").is_err());
    }
}
