//! What the HorizontalPodAutoscaler does with a metric proposal before it
//! scales, pure (no I/O) so its cases are table tests: stabilization over
//! recent recommendations, the `behavior` policies (Pods / Percent per
//! period, `selectPolicy` Max / Min / Disabled) and min/max replicas, with
//! the AbleToScale and ScalingLimited reasons Kubernetes writes.
//!
//! Mirrors `normalizeDesiredReplicas` (no `behavior`: a scale-down
//! stabilization window, `--horizontal-pod-autoscaler-downscale-stabilization`
//! 5 min, and scale-up at most to max(2 × current, 4)) and
//! `normalizeDesiredReplicasWithBehaviors` of Kubernetes'
//! `pkg/controller/podautoscaler/horizontal.go` (1.33). The history (past
//! recommendations and scale events) is kept per HPA by the controller, in
//! memory as in Kubernetes: a restarted controller starts afresh.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::autoscaling::v2::{HPAScalingRules, HorizontalPodAutoscalerBehavior};

/// How a policy limits change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyType {
    Pods,
    Percent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub kind: PolicyType,
    pub value: i32,
    pub period: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    Max,
    Min,
    Disabled,
}

/// One direction's rules (`behavior.scaleUp` or `behavior.scaleDown`).
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub stabilization: Duration,
    pub select: Select,
    pub policies: Vec<Policy>,
}

/// Both directions, with Kubernetes' defaults for what is unset.
#[derive(Debug, Clone, PartialEq)]
pub struct Behavior {
    pub up: Rules,
    pub down: Rules,
}

impl Behavior {
    /// The HPA's `behavior`, defaulted as `GenerateHPAScaleUpRules` /
    /// `GenerateHPAScaleDownRules` (scale-down's window: the controller's
    /// `default_down_window` when unset).
    pub fn from_spec(b: &HorizontalPodAutoscalerBehavior, default_down_window: Duration) -> Self {
        let rules = |r: Option<&HPAScalingRules>, window: Duration, policies: Vec<Policy>| Rules {
            stabilization: r
                .and_then(|r| r.stabilization_window_seconds)
                .map_or(window, |s| Duration::from_secs(s.max(0) as u64)),
            select: match r.and_then(|r| r.select_policy.as_deref()) {
                Some("Min") => Select::Min,
                Some("Disabled") => Select::Disabled,
                _ => Select::Max,
            },
            policies: match r.and_then(|r| r.policies.as_ref()) {
                Some(p) if !p.is_empty() => p
                    .iter()
                    .map(|p| Policy {
                        kind: if p.type_ == "Pods" {
                            PolicyType::Pods
                        } else {
                            PolicyType::Percent
                        },
                        value: p.value,
                        period: Duration::from_secs(p.period_seconds.max(0) as u64),
                    })
                    .collect(),
                _ => policies,
            },
        };
        let every_15s = |kind, value| Policy {
            kind,
            value,
            period: Duration::from_secs(15),
        };
        Behavior {
            up: rules(
                b.scale_up.as_ref(),
                Duration::ZERO,
                vec![
                    every_15s(PolicyType::Pods, 4),
                    every_15s(PolicyType::Percent, 100),
                ],
            ),
            down: rules(
                b.scale_down.as_ref(),
                default_down_window,
                vec![every_15s(PolicyType::Percent, 100)],
            ),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Recommendation {
    replicas: i32,
    at: Timestamp,
}

#[derive(Debug, Clone, Copy)]
struct ScaleEvent {
    change: i32,
    at: Timestamp,
}

/// One HPA's recent recommendations and scale events.
#[derive(Debug, Default, Clone)]
pub struct History {
    /// The HPA this history is of: one recreated under the same name
    /// starts afresh (Kubernetes forgets a deleted HPA's history).
    uid: String,
    recommendations: Vec<Recommendation>,
    up: Vec<ScaleEvent>,
    down: Vec<ScaleEvent>,
}

/// A condition as the controller sets it: (status, reason, message).
pub type Cond = (bool, &'static str, &'static str);

/// The normalized replica count and the conditions it explains itself with.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    pub replicas: i32,
    pub able_to_scale: Cond,
    pub scaling_limited: Cond,
}

const READY_FOR_NEW_SCALE: Cond = (
    true,
    "ReadyForNewScale",
    "recommended size matches current size",
);
const SCALE_DOWN_STABILIZED: Cond = (
    true,
    "ScaleDownStabilized",
    "recent recommendations were higher than current one, applying the highest recent recommendation",
);
const SCALE_UP_STABILIZED: Cond = (
    true,
    "ScaleUpStabilized",
    "recent recommendations were lower than current one, applying the lowest recent recommendation",
);
const WITHIN_RANGE: (&str, &str) = (
    "DesiredWithinRange",
    "the desired count is within the acceptable range",
);
const TOO_FEW: (&str, &str) = (
    "TooFewReplicas",
    "the desired replica count is less than the minimum replica count",
);
const TOO_MANY: (&str, &str) = (
    "TooManyReplicas",
    "the desired replica count is more than the maximum replica count",
);
const UP_LIMIT: (&str, &str) = (
    "ScaleUpLimit",
    "the desired replica count is increasing faster than the maximum scale rate",
);
const DOWN_LIMIT: (&str, &str) = (
    "ScaleDownLimit",
    "the desired replica count is decreasing faster than the maximum scale rate",
);

/// The HPA's limits and where it stands.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub min: i32,
    pub max: i32,
    pub current: i32,
}

impl History {
    /// Starts afresh if this history was of another HPA (`uid`).
    pub fn of(&mut self, uid: &str) -> &mut Self {
        if self.uid != uid {
            *self = History {
                uid: uid.to_string(),
                ..Default::default()
            };
        }
        self
    }

    /// Records `current` as a recommendation if there is none yet
    /// (`recordInitialRecommendation`).
    pub fn seed(&mut self, current: i32, now: Timestamp) {
        if self.recommendations.is_empty() {
            self.recommendations.push(Recommendation {
                replicas: current,
                at: now,
            });
        }
    }

    /// Normalizes a metrics proposal: stabilized over recent
    /// recommendations, then held to the rate limits and min/max.
    pub fn normalize(
        &mut self,
        behavior: Option<&Behavior>,
        default_down_window: Duration,
        bounds: Bounds,
        desired: i32,
        now: Timestamp,
    ) -> Normalized {
        match behavior {
            None => self.normalize_plain(default_down_window, bounds, desired, now),
            Some(b) => self.normalize_with_behavior(b, bounds, desired, now),
        }
    }

    fn normalize_plain(
        &mut self,
        window: Duration,
        b: Bounds,
        desired: i32,
        now: Timestamp,
    ) -> Normalized {
        let cutoff = now - window;
        let mut stabilized = desired;
        let mut old = None;
        for (i, r) in self.recommendations.iter().enumerate() {
            if r.at < cutoff {
                old = Some(i);
            } else {
                stabilized = stabilized.max(r.replicas);
            }
        }
        self.remember(old, desired, now);
        let able_to_scale = if stabilized != desired {
            SCALE_DOWN_STABILIZED
        } else {
            READY_FOR_NEW_SCALE
        };
        let scale_up_limit = (2 * b.current).max(4);
        let (replicas, (reason, message)) = if stabilized < b.min {
            (b.min, TOO_FEW)
        } else {
            let (max, limit) = if b.max > scale_up_limit {
                (scale_up_limit, UP_LIMIT)
            } else {
                (b.max, TOO_MANY)
            };
            if stabilized > max {
                (max, limit)
            } else {
                (stabilized, WITHIN_RANGE)
            }
        };
        Normalized {
            replicas,
            able_to_scale,
            scaling_limited: (replicas != stabilized, reason, message),
        }
    }

    fn normalize_with_behavior(
        &mut self,
        behavior: &Behavior,
        b: Bounds,
        desired: i32,
        now: Timestamp,
    ) -> Normalized {
        let up_cutoff = now - behavior.up.stabilization;
        let down_cutoff = now - behavior.down.stabilization;
        let (mut up, mut down) = (desired, desired);
        let mut old = None;
        for (i, r) in self.recommendations.iter().enumerate() {
            if r.at > up_cutoff {
                up = up.min(r.replicas);
            }
            if r.at > down_cutoff {
                down = down.max(r.replicas);
            }
            if r.at < up_cutoff && r.at < down_cutoff {
                old = Some(i);
            }
        }
        let stabilized = b.current.max(up).min(down);
        self.remember(old, desired, now);
        let able_to_scale = if stabilized == desired {
            READY_FOR_NEW_SCALE
        } else if desired >= b.current {
            SCALE_UP_STABILIZED
        } else {
            SCALE_DOWN_STABILIZED
        };
        let (replicas, (reason, message)) = if stabilized > b.current {
            let limit = self.up_limit(&behavior.up, b.current, now).max(b.current);
            let (max, why) = if b.max > limit {
                (limit, UP_LIMIT)
            } else {
                (b.max, TOO_MANY)
            };
            if stabilized > max {
                (max, why)
            } else {
                (stabilized, WITHIN_RANGE)
            }
        } else if stabilized < b.current {
            let limit = self
                .down_limit(&behavior.down, b.current, now)
                .min(b.current);
            let (min, why) = if b.min < limit {
                (limit, DOWN_LIMIT)
            } else {
                (b.min, TOO_FEW)
            };
            if stabilized < min {
                (min, why)
            } else {
                (stabilized, WITHIN_RANGE)
            }
        } else {
            (stabilized, WITHIN_RANGE)
        };
        Normalized {
            replicas,
            able_to_scale,
            scaling_limited: (replicas != stabilized, reason, message),
        }
    }

    /// Records the unstabilized recommendation, reusing an expired slot.
    fn remember(&mut self, old: Option<usize>, replicas: i32, at: Timestamp) {
        let r = Recommendation { replicas, at };
        match old {
            Some(i) => self.recommendations[i] = r,
            None => self.recommendations.push(r),
        }
    }

    /// Replicas added (`up`) or removed within the last `period`.
    fn changed(events: &[ScaleEvent], period: Duration, now: Timestamp) -> i32 {
        let cutoff = now - period;
        events
            .iter()
            .filter(|e| e.at > cutoff)
            .map(|e| e.change)
            .sum()
    }

    fn period_start(&self, p: &Policy, current: i32, now: Timestamp) -> i32 {
        current - Self::changed(&self.up, p.period, now) + Self::changed(&self.down, p.period, now)
    }

    /// `calculateScaleUpLimitWithScalingRules`.
    fn up_limit(&self, rules: &Rules, current: i32, now: Timestamp) -> i32 {
        let proposals = rules.policies.iter().map(|p| {
            let start = self.period_start(p, current, now);
            match p.kind {
                PolicyType::Pods => start + p.value,
                PolicyType::Percent => {
                    (f64::from(start) * (1.0 + f64::from(p.value) / 100.0)).ceil() as i32
                }
            }
        });
        match rules.select {
            Select::Disabled => current,
            Select::Min => proposals.min().unwrap_or(i32::MAX),
            Select::Max => proposals.max().unwrap_or(i32::MIN),
        }
    }

    /// `calculateScaleDownLimitWithBehaviors`.
    fn down_limit(&self, rules: &Rules, current: i32, now: Timestamp) -> i32 {
        let proposals = rules.policies.iter().map(|p| {
            let start = self.period_start(p, current, now);
            match p.kind {
                PolicyType::Pods => start - p.value,
                PolicyType::Percent => {
                    (f64::from(start) * (1.0 - f64::from(p.value) / 100.0)) as i32
                }
            }
        });
        match rules.select {
            Select::Disabled => current,
            Select::Min => proposals.max().unwrap_or(i32::MIN),
            Select::Max => proposals.min().unwrap_or(i32::MAX),
        }
    }

    /// Records a scale from `old` to `new` replicas (only with a
    /// `behavior`, as Kubernetes); forgets events older than the longest period.
    pub fn record_scale(
        &mut self,
        behavior: Option<&Behavior>,
        old: i32,
        new: i32,
        now: Timestamp,
    ) {
        let Some(b) = behavior else { return };
        let longest = |r: &Rules| {
            r.policies
                .iter()
                .map(|p| p.period)
                .max()
                .unwrap_or_default()
        };
        self.up.retain(|e| e.at > now - longest(&b.up));
        self.down.retain(|e| e.at > now - longest(&b.down));
        let event = ScaleEvent {
            change: (new - old).abs(),
            at: now,
        };
        if new > old {
            self.up.push(event);
        } else if new < old {
            self.down.push(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_MIN: Duration = Duration::from_secs(300);

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    fn bounds(min: i32, max: i32, current: i32) -> Bounds {
        Bounds { min, max, current }
    }

    fn behavior(json: serde_json::Value) -> Behavior {
        Behavior::from_spec(&serde_json::from_value(json).unwrap(), FIVE_MIN)
    }

    fn plain(
        h: &mut History,
        b: Bounds,
        desired: i32,
        t: i64,
    ) -> (i32, &'static str, &'static str) {
        let n = h.normalize(None, FIVE_MIN, b, desired, at(t));
        (n.replicas, n.able_to_scale.1, n.scaling_limited.1)
    }

    #[test]
    fn without_behavior_scale_down_waits_five_minutes_and_scale_up_doubles() {
        let mut h = History::default();
        assert_eq!(
            plain(&mut h, bounds(1, 10, 5), 5, 0),
            (5, "ReadyForNewScale", "DesiredWithinRange")
        );
        assert_eq!(
            plain(&mut h, bounds(1, 10, 5), 2, 60),
            (5, "ScaleDownStabilized", "DesiredWithinRange")
        );
        assert_eq!(
            plain(&mut h, bounds(1, 10, 5), 2, 301),
            (2, "ReadyForNewScale", "DesiredWithinRange")
        );
        let mut h = History::default();
        assert_eq!(
            plain(&mut h, bounds(1, 20, 1), 10, 0),
            (4, "ReadyForNewScale", "ScaleUpLimit")
        );
        assert_eq!(
            plain(&mut h, bounds(1, 20, 8), 30, 15),
            (16, "ReadyForNewScale", "ScaleUpLimit")
        );
        let mut h = History::default();
        assert_eq!(
            plain(&mut h, bounds(1, 6, 4), 9, 30),
            (6, "ReadyForNewScale", "TooManyReplicas")
        );
        let mut h = History::default();
        assert_eq!(
            plain(&mut h, bounds(2, 6, 2), 1, 0),
            (2, "ReadyForNewScale", "TooFewReplicas")
        );
    }

    #[test]
    fn a_new_hpa_holds_its_current_count_for_the_window() {
        // The first reading is already low: the seeded current count (4)
        // holds for five minutes from the first sync.
        let mut h = History::default();
        h.seed(4, at(0));
        assert_eq!(
            plain(&mut h, bounds(2, 5, 4), 2, 0),
            (4, "ScaleDownStabilized", "DesiredWithinRange")
        );
        assert_eq!(
            plain(&mut h, bounds(2, 5, 4), 2, 299),
            (4, "ScaleDownStabilized", "DesiredWithinRange")
        );
        assert_eq!(
            plain(&mut h, bounds(2, 5, 4), 2, 301),
            (2, "ReadyForNewScale", "DesiredWithinRange")
        );
        // Seeding again later changes nothing.
        h.seed(9, at(302));
        assert_eq!(
            plain(&mut h, bounds(2, 5, 2), 2, 303),
            (2, "ReadyForNewScale", "DesiredWithinRange")
        );
        // An HPA recreated under the same name starts afresh.
        let h = h.of("another-uid");
        h.seed(4, at(400));
        assert_eq!(
            plain(h, bounds(2, 5, 4), 2, 401),
            (4, "ScaleDownStabilized", "DesiredWithinRange")
        );
    }

    #[test]
    fn behavior_policies_select_and_periods() {
        // (what, behavior, bounds, desired, want replicas, want ScalingLimited reason)
        let cases = vec![
            (
                "defaults: the larger of +4 pods and +100 %",
                json!({}),
                bounds(1, 100, 10),
                100,
                20,
                "ScaleUpLimit",
            ),
            (
                "selectPolicy Min: the smaller",
                json!({"scaleUp": {"selectPolicy": "Min", "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]}}),
                bounds(1, 100, 10),
                100,
                14,
                "ScaleUpLimit",
            ),
            (
                "selectPolicy Disabled: no scale up",
                json!({"scaleUp": {"selectPolicy": "Disabled"}}),
                bounds(1, 100, 10),
                100,
                10,
                "ScaleUpLimit",
            ),
            (
                "max replicas below the rate limit",
                json!({}),
                bounds(1, 12, 10),
                100,
                12,
                "TooManyReplicas",
            ),
            (
                "scale down without a window: the default 100 % per 15 s",
                json!({"scaleDown": {"stabilizationWindowSeconds": 0}}),
                bounds(1, 100, 10),
                1,
                1,
                "DesiredWithinRange",
            ),
            (
                "scale down held to min replicas",
                json!({"scaleDown": {"stabilizationWindowSeconds": 0}}),
                bounds(3, 100, 10),
                1,
                3,
                "TooFewReplicas",
            ),
            (
                "scale down by at most 2 pods",
                json!({"scaleDown": {"stabilizationWindowSeconds": 0,
                "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]}}),
                bounds(1, 100, 10),
                1,
                8,
                "ScaleDownLimit",
            ),
            (
                "scale down Disabled",
                json!({"scaleDown": {"selectPolicy": "Disabled", "stabilizationWindowSeconds": 0}}),
                bounds(1, 100, 10),
                1,
                10,
                "ScaleDownLimit",
            ),
        ];
        for (what, b, bounds, desired, want, reason) in cases {
            let b = behavior(b);
            let n = History::default().normalize(Some(&b), FIVE_MIN, bounds, desired, at(0));
            assert_eq!((n.replicas, n.scaling_limited.1), (want, reason), "{what}");
            assert_eq!(
                n.scaling_limited.0,
                want != desired,
                "{what}: ScalingLimited status"
            );
        }
    }

    #[test]
    fn policy_periods_count_recent_scale_events() {
        let b = behavior(json!({"scaleDown": {"stabilizationWindowSeconds": 0,
            "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}]}}));
        let mut h = History::default();
        let n = h.normalize(Some(&b), FIVE_MIN, bounds(1, 100, 10), 1, at(0));
        assert_eq!((n.replicas, n.scaling_limited.1), (5, "ScaleDownLimit"));
        h.record_scale(Some(&b), 10, 5, at(0));
        // Within the period the 50 % is of the 10 the period started with.
        let n = h.normalize(Some(&b), FIVE_MIN, bounds(1, 100, 5), 1, at(30));
        assert_eq!(n.replicas, 5);
        let n = h.normalize(Some(&b), FIVE_MIN, bounds(1, 100, 5), 1, at(61));
        assert_eq!(n.replicas, 2);
    }

    #[test]
    fn stabilization_windows_in_both_directions() {
        let b = behavior(
            json!({"scaleUp": {"stabilizationWindowSeconds": 60}, "scaleDown": {"stabilizationWindowSeconds": 120}}),
        );
        let mut h = History::default();
        let run = |h: &mut History, current, desired, t| {
            let n = h.normalize(Some(&b), FIVE_MIN, bounds(1, 100, current), desired, at(t));
            (n.replicas, n.able_to_scale.1)
        };
        assert_eq!(run(&mut h, 4, 4, 0), (4, "ReadyForNewScale"));
        // Up: the lowest recommendation of the last 60 s.
        assert_eq!(run(&mut h, 4, 8, 10), (4, "ScaleUpStabilized"));
        assert_eq!(run(&mut h, 4, 8, 70), (8, "ReadyForNewScale"));
        // Down: the highest of the last 120 s.
        assert_eq!(run(&mut h, 8, 2, 80), (8, "ScaleDownStabilized"));
        assert_eq!(run(&mut h, 8, 2, 200), (2, "ReadyForNewScale"));
    }

    use serde_json::json;
}
