//! The HorizontalPodAutoscaler's replica calculator, pure (no I/O), so its
//! cases are table tests: from each pod's usage and requests, how many
//! replicas one Resource or ContainerResource metric proposes.
//!
//! Mirrors Kubernetes' `pkg/controller/podautoscaler/replica_calculator.go`
//! (1.33): `desired = ceil(ready pods × usage / target)`, nothing when the
//! ratio is within the tolerance (0.1); pods being deleted or Failed are
//! ignored; Pending pods, and for CPU pods not yet ready (or whose
//! readiness changed less than one metric window ago within the CPU
//! initialization period, or never ready within the initial readiness
//! delay), are "unready"; pods without metrics are "missing". Then, as
//! Kubernetes does, missing pods count as using 100 % of their request
//! (or the target, if higher) when scaling down and 0 % when scaling up,
//! unready pods 0 % when scaling up, and a scale whose direction these
//! assumptions would reverse does not happen.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;

/// The calculator's settings (kube-controller-manager flags).
#[derive(Debug, Clone, Copy)]
pub struct Calculator {
    /// `--horizontal-pod-autoscaler-tolerance` (0.1).
    pub tolerance: f64,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period` (5 min).
    pub cpu_initialization_period: Duration,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay` (30 s).
    pub initial_readiness_delay: Duration,
}

impl Default for Calculator {
    fn default() -> Self {
        Self {
            tolerance: 0.1,
            cpu_initialization_period: Duration::from_secs(300),
            initial_readiness_delay: Duration::from_secs(30),
        }
    }
}

/// One usage sample of a pod (summed over its containers, or the one
/// container a ContainerResource metric names), in milli-units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub milli: i64,
    pub timestamp: Timestamp,
    pub window: Duration,
}

/// What the calculator needs of one pod the target's selector selects.
#[derive(Debug, Clone)]
pub struct PodInfo {
    pub name: String,
    pub phase: String,
    pub deleting: bool,
    /// The Ready condition: its status and last transition.
    pub ready: Option<(bool, Timestamp)>,
    pub start_time: Option<Timestamp>,
    /// The request of the metric's resource in milli-units, or Kubernetes'
    /// error when a container has none (`missing request for cpu in container web of Pod web-1`).
    pub request: Result<i64, String>,
    pub sample: Option<Sample>,
}

/// What a metric asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// Percent of the pods' requests.
    Utilization(i32),
    /// Milli-units per pod.
    AverageValue(i64),
}

/// One metric's proposal, and what the HPA's status reports of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proposal {
    pub replicas: i32,
    /// Percent of requests (Utilization targets only).
    pub utilization: Option<i32>,
    /// Average usage per pod, milli-units.
    pub average_milli: i64,
}

/// How the pods fall for this metric.
struct Groups {
    ready: usize,
    unready: Vec<String>,
    missing: Vec<String>,
}

impl Calculator {
    /// The replicas a Resource/ContainerResource metric proposes, given
    /// the target's current replicas and its selected pods.
    pub fn replicas(
        &self,
        current: i32,
        target: Target,
        is_cpu: bool,
        pods: &[PodInfo],
        now: Timestamp,
    ) -> Result<Proposal, String> {
        if pods.is_empty() {
            return Err("no pods returned by selector while calculating replica count".into());
        }
        let (groups, mut metrics) = self.group(pods, is_cpu, now);
        if metrics.is_empty() {
            return Err("did not receive metrics for targeted pods (pods might be unready)".into());
        }
        let requests: BTreeMap<&str, i64> = match target {
            Target::Utilization(_) => pods
                .iter()
                .map(|p| p.request.clone().map(|r| (p.name.as_str(), r)))
                .collect::<Result<_, _>>()?,
            Target::AverageValue(_) => BTreeMap::new(),
        };
        let ratio_of = |metrics: &BTreeMap<String, i64>| ratio(metrics, &requests, target);
        let (usage_ratio, utilization, average) = ratio_of(&metrics)?;
        let proposal = |replicas| Proposal {
            replicas,
            utilization,
            average_milli: average,
        };
        let scale_up_with_unready = !groups.unready.is_empty() && usage_ratio > 1.0;
        if !scale_up_with_unready && groups.missing.is_empty() {
            if (1.0 - usage_ratio).abs() <= self.tolerance {
                return Ok(proposal(current));
            }
            return Ok(proposal((usage_ratio * groups.ready as f64).ceil() as i32));
        }
        for name in &groups.missing {
            if usage_ratio < 1.0 {
                // Scaling down: a pod without metrics uses all it may.
                let assumed = match target {
                    Target::Utilization(t) => {
                        requests.get(name.as_str()).copied().unwrap_or(0) * i64::from(t.max(100))
                            / 100
                    }
                    Target::AverageValue(v) => v,
                };
                metrics.insert(name.clone(), assumed);
            } else if usage_ratio > 1.0 {
                metrics.insert(name.clone(), 0);
            }
        }
        if scale_up_with_unready {
            for name in &groups.unready {
                metrics.insert(name.clone(), 0);
            }
        }
        let (new_ratio, _, _) = ratio_of(&metrics)?;
        let reversed =
            (usage_ratio < 1.0 && new_ratio > 1.0) || (usage_ratio > 1.0 && new_ratio < 1.0);
        if (1.0 - new_ratio).abs() <= self.tolerance || reversed {
            return Ok(proposal(current));
        }
        let replicas = (new_ratio * metrics.len() as f64).ceil() as i32;
        if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
            return Ok(proposal(current));
        }
        Ok(proposal(replicas))
    }

    /// Kubernetes' `groupPods`, then the samples of the pods that count.
    fn group(
        &self,
        pods: &[PodInfo],
        is_cpu: bool,
        now: Timestamp,
    ) -> (Groups, BTreeMap<String, i64>) {
        let mut groups = Groups {
            ready: 0,
            unready: Vec::new(),
            missing: Vec::new(),
        };
        let mut metrics = BTreeMap::new();
        for pod in pods {
            if pod.deleting || pod.phase == "Failed" {
                continue;
            }
            if pod.phase == "Pending" {
                groups.unready.push(pod.name.clone());
                continue;
            }
            let Some(sample) = pod.sample else {
                groups.missing.push(pod.name.clone());
                continue;
            };
            if is_cpu && self.unready_for_cpu(pod, &sample, now) {
                groups.unready.push(pod.name.clone());
                continue;
            }
            groups.ready += 1;
            metrics.insert(pod.name.clone(), sample.milli);
        }
        (groups, metrics)
    }

    /// A CPU sample that does not yet reflect the pod's steady state.
    fn unready_for_cpu(&self, pod: &PodInfo, sample: &Sample, now: Timestamp) -> bool {
        let (Some((ready, transition)), Some(start)) = (pod.ready, pod.start_time) else {
            return true;
        };
        if start + self.cpu_initialization_period > now {
            // Within the initialization period: unready, or no full window since it became ready.
            !ready || sample.timestamp < transition + sample.window
        } else {
            // Unready and never ready since start.
            !ready && start + self.initial_readiness_delay > transition
        }
    }
}

/// Usage ÷ target: for Utilization, the pods' summed usage over their
/// summed requests (as a whole percent, as Kubernetes truncates it) over
/// the target percent; for AverageValue, the average over the target.
/// Also the utilization and the average usage per pod.
fn ratio(
    metrics: &BTreeMap<String, i64>,
    requests: &BTreeMap<&str, i64>,
    target: Target,
) -> Result<(f64, Option<i32>, i64), String> {
    match target {
        Target::Utilization(t) => {
            let (mut used, mut requested, mut n) = (0i64, 0i64, 0i64);
            for (name, value) in metrics {
                if let Some(r) = requests.get(name.as_str()) {
                    used += value;
                    requested += r;
                    n += 1;
                }
            }
            if requested == 0 {
                return Err("no metrics returned matched known pods".into());
            }
            let utilization = (used * 100 / requested) as i32;
            Ok((
                f64::from(utilization) / f64::from(t),
                Some(utilization),
                used / n,
            ))
        }
        Target::AverageValue(v) => {
            let total: i64 = metrics.values().sum();
            let average = total / metrics.len().max(1) as i64;
            Ok((average as f64 / v as f64, None, average))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-01-01T12:00:00Z".parse().unwrap()
    }

    fn ago(secs: i64) -> Timestamp {
        now() - jiff::SignedDuration::from_secs(secs)
    }

    /// A Running pod ready for 10 minutes, requesting 1000m, using `milli` (None: no metrics).
    fn pod(name: &str, milli: Option<i64>) -> PodInfo {
        PodInfo {
            name: name.into(),
            phase: "Running".into(),
            deleting: false,
            ready: Some((true, ago(590))),
            start_time: Some(ago(600)),
            request: Ok(1000),
            sample: milli.map(|milli| Sample {
                milli,
                timestamp: ago(5),
                window: Duration::from_secs(15),
            }),
        }
    }

    fn pending(name: &str) -> PodInfo {
        PodInfo {
            phase: "Pending".into(),
            ready: None,
            sample: None,
            ..pod(name, None)
        }
    }

    fn with(p: PodInfo, f: impl FnOnce(&mut PodInfo)) -> PodInfo {
        let mut p = p;
        f(&mut p);
        p
    }

    fn cpu(current: i32, target: Target, pods: Vec<PodInfo>) -> Result<i32, String> {
        Calculator::default()
            .replicas(current, target, true, &pods, now())
            .map(|p| p.replicas)
    }

    const HALF: Target = Target::Utilization(50);

    #[test]
    fn kubernetes_replica_calculator_cases() {
        type Case<'a> = (&'a str, i32, Target, Vec<PodInfo>, Result<i32, &'a str>);
        let cases: Vec<Case> = vec![
            (
                "within tolerance: 52% of a 50% target",
                3,
                HALF,
                vec![
                    pod("a", Some(520)),
                    pod("b", Some(520)),
                    pod("c", Some(520)),
                ],
                Ok(3),
            ),
            (
                "just outside tolerance scales",
                3,
                HALF,
                vec![
                    pod("a", Some(560)),
                    pod("b", Some(560)),
                    pod("c", Some(560)),
                ],
                Ok(4),
            ),
            (
                "scale up: 100% of a 50% target",
                3,
                HALF,
                vec![
                    pod("a", Some(1000)),
                    pod("b", Some(1000)),
                    pod("c", Some(1000)),
                ],
                Ok(6),
            ),
            (
                "scale down: 25% of a 50% target",
                4,
                HALF,
                (0..4).map(|i| pod(&format!("p{i}"), Some(250))).collect(),
                Ok(2),
            ),
            (
                "missing metrics count as 100% on a scale down",
                4,
                HALF,
                vec![
                    pod("a", Some(100)),
                    pod("b", Some(100)),
                    pod("c", Some(100)),
                    pod("d", None),
                ],
                Ok(3),
            ),
            (
                "missing metrics count as 0% on a scale up",
                4,
                HALF,
                vec![
                    pod("a", Some(1000)),
                    pod("b", Some(1000)),
                    pod("c", Some(1000)),
                    pod("d", None),
                ],
                Ok(6),
            ),
            (
                "unready (Pending) pods count as 0% on a scale up",
                3,
                HALF,
                vec![pod("a", Some(1000)), pod("b", Some(1000)), pending("c")],
                Ok(4),
            ),
            (
                "unready pods are left out of a scale down",
                3,
                HALF,
                vec![pod("a", Some(100)), pod("b", Some(100)), pending("c")],
                Ok(1),
            ),
            (
                "assumptions that reverse the direction: no scale",
                4,
                HALF,
                vec![
                    pod("a", Some(600)),
                    pod("b", None),
                    pod("c", None),
                    pod("d", None),
                ],
                Ok(4),
            ),
            (
                "deleted and Failed pods are ignored",
                2,
                HALF,
                vec![
                    pod("a", Some(1000)),
                    with(pod("b", Some(0)), |p| p.deleting = true),
                    with(pod("c", Some(0)), |p| p.phase = "Failed".into()),
                ],
                Ok(2),
            ),
            // A CPU burst while starting (b at 100 %) is left out while b is "unready".
            (
                "CPU: ready less than one window ago within the initialization period",
                2,
                HALF,
                vec![
                    pod("a", Some(1500)),
                    with(pod("b", Some(1000)), |p| {
                        p.start_time = Some(ago(60));
                        p.ready = Some((true, ago(8)));
                    }),
                ],
                Ok(3),
            ),
            (
                "CPU: ready a full window ago within the initialization period counts",
                2,
                HALF,
                vec![
                    pod("a", Some(1500)),
                    with(pod("b", Some(1000)), |p| {
                        p.start_time = Some(ago(60));
                        p.ready = Some((true, ago(40)));
                    }),
                ],
                Ok(5),
            ),
            (
                "CPU: never ready since start (within the readiness delay) is unready",
                2,
                HALF,
                vec![
                    pod("a", Some(1500)),
                    with(pod("b", Some(1000)), |p| p.ready = Some((false, ago(590)))),
                ],
                Ok(3),
            ),
            (
                "CPU: unready after having been ready counts",
                2,
                HALF,
                vec![
                    pod("a", Some(1500)),
                    with(pod("b", Some(1000)), |p| p.ready = Some((false, ago(100)))),
                ],
                Ok(5),
            ),
            (
                "AverageValue: 300m each against 100m",
                3,
                Target::AverageValue(100),
                vec![
                    pod("a", Some(300)),
                    pod("b", Some(300)),
                    pod("c", Some(300)),
                ],
                Ok(9),
            ),
            (
                "AverageValue: missing pods assume the target on a scale down",
                4,
                Target::AverageValue(100),
                vec![
                    pod("a", Some(10)),
                    pod("b", Some(10)),
                    pod("c", Some(10)),
                    pod("d", None),
                ],
                Ok(2),
            ),
            (
                "no pods",
                1,
                HALF,
                vec![],
                Err("no pods returned by selector while calculating replica count"),
            ),
            (
                "no metrics for any counted pod",
                1,
                HALF,
                vec![pod("a", None), pending("b")],
                Err("did not receive metrics for targeted pods (pods might be unready)"),
            ),
            (
                "a container without a request",
                1,
                HALF,
                vec![with(pod("a", Some(100)), |p| {
                    p.request = Err("missing request for cpu in container app of Pod a".into())
                })],
                Err("missing request for cpu in container app of Pod a"),
            ),
        ];
        for (what, current, target, pods, want) in cases {
            assert_eq!(
                cpu(current, target, pods),
                want.map_err(String::from),
                "{what}"
            );
        }
    }

    #[test]
    fn readiness_does_not_matter_for_memory() {
        let pods = vec![
            pod("a", Some(1000)),
            with(pod("b", Some(1000)), |p| {
                p.start_time = Some(ago(5));
                p.ready = Some((false, ago(5)));
            }),
        ];
        let p = Calculator::default()
            .replicas(2, HALF, false, &pods, now())
            .unwrap();
        assert_eq!(
            (p.replicas, p.utilization, p.average_milli),
            (4, Some(100), 1000)
        );
    }
}
