//! Images by `imagePullPolicy`, as kubelet's image manager:
//!
//! - `IfNotPresent` (the default unless the tag is `:latest` or missing):
//!   a present image is never pulled ("Container image … already present on
//!   machine");
//! - `Never`: a missing image is ErrImageNeverPull;
//! - `Always`, or a missing image: Pulling, then Pulled, or on failure
//!   ErrImagePull followed by ImagePullBackOff (10 s doubling to 5 min).
//!
//! Deviation, on purpose: minik machines reach no registry, so when an
//! `Always` pull fails but the image is present locally, the local copy is
//! used (and the Pulled event says so) instead of failing the pod: this is
//! what lets `image: busybox` work offline.

use std::collections::HashMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Container;

use crate::backoff::Backoff;
use crate::events::PodEvents;
use crate::runtime::Runtime;
use crate::Error;

/// Pull failures of one pod's images, for ImagePullBackOff.
pub struct PullBackoff {
    backoff: Backoff,
    failed_at: HashMap<String, Timestamp>,
}

impl PullBackoff {
    pub fn new(backoff: Backoff) -> Self {
        Self {
            backoff,
            failed_at: HashMap::new(),
        }
    }

    /// No image pull has failed.
    pub fn is_empty(&self) -> bool {
        self.backoff.is_empty() && self.failed_at.is_empty()
    }
}

/// The image is ready to run, or the container waits with a reason.
pub enum ImageOutcome {
    Ready,
    /// (reason, message, retry after)
    Waiting(String, String, Option<std::time::Duration>),
}

/// The effective pull policy (the API server defaults it; this covers
/// objects that bypassed defaulting).
pub fn pull_policy(c: &Container) -> String {
    if let Some(p) = c.image_pull_policy.as_deref().filter(|p| !p.is_empty()) {
        return p.to_string();
    }
    let image = c.image.as_deref().unwrap_or("");
    let last = image.rsplit('/').next().unwrap_or(image);
    let tag = last
        .split_once('@')
        .map_or(last, |(n, _)| n)
        .split_once(':')
        .map(|(_, t)| t);
    match tag {
        None | Some("latest") if !image.contains('@') => "Always".into(),
        _ => "IfNotPresent".into(),
    }
}

/// Makes sure `c`'s image is there, recording kubelet's events.
pub async fn ensure(
    runtime: &dyn Runtime,
    events: &PodEvents,
    state: &mut PullBackoff,
    c: &Container,
) -> Result<ImageOutcome, Error> {
    let image = c.image.clone().unwrap_or_default();
    let policy = pull_policy(c);
    let present = runtime.image_id(&image).await?.is_some();
    if present && policy != "Always" {
        events.normal(
            "Pulled",
            format!("Container image \"{image}\" already present on machine"),
        );
        return Ok(ImageOutcome::Ready);
    }
    if !present && policy == "Never" {
        let msg = format!("Container image \"{image}\" is not present with pull policy of Never");
        events.warning("ErrImageNeverPull", msg.clone());
        return Ok(ImageOutcome::Waiting("ErrImageNeverPull".into(), msg, None));
    }
    let now = Timestamp::now();
    if let Some(failed) = state.failed_at.get(&image) {
        if let Some(left) = state.backoff.remaining(&image, *failed, now) {
            let msg = format!("Back-off pulling image \"{image}\"");
            events.normal("BackOff", msg.clone());
            events.warning("Failed", "Error: ImagePullBackOff");
            return Ok(ImageOutcome::Waiting(
                "ImagePullBackOff".into(),
                msg,
                Some(left),
            ));
        }
    }
    events.normal("Pulling", format!("Pulling image \"{image}\""));
    let started = std::time::Instant::now();
    match runtime.pull_image(&image).await {
        Ok(()) => {
            state.failed_at.remove(&image);
            state.backoff.forget(&image);
            events.normal(
                "Pulled",
                format!(
                    "Successfully pulled image \"{image}\" in {:.3}s",
                    started.elapsed().as_secs_f64()
                ),
            );
            Ok(ImageOutcome::Ready)
        }
        Err(e) if present => {
            events.normal(
                "Pulled",
                format!("Container image \"{image}\" already present on machine (pull failed, using the local image: {e})"),
            );
            Ok(ImageOutcome::Ready)
        }
        Err(e) => {
            let failed = state.failed_at.get(&image).copied().unwrap_or(now);
            state.backoff.next(&image, failed, now);
            state.failed_at.insert(image.clone(), now);
            let msg = format!("Failed to pull image \"{image}\": {e}");
            events.warning("Failed", msg.clone());
            events.warning("Failed", "Error: ErrImagePull");
            Ok(ImageOutcome::Waiting(
                "ErrImagePull".into(),
                msg,
                Some(state.backoff.delay(&image)),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(image: &str, policy: Option<&str>) -> Container {
        Container {
            name: "c".into(),
            image: Some(image.into()),
            image_pull_policy: policy.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn default_policy_depends_on_the_tag() {
        assert_eq!(pull_policy(&c("busybox", None)), "Always");
        assert_eq!(pull_policy(&c("busybox:latest", None)), "Always");
        assert_eq!(pull_policy(&c("busybox:1.35", None)), "IfNotPresent");
        assert_eq!(pull_policy(&c("localhost:5000/web", None)), "Always");
        assert_eq!(
            pull_policy(&c("localhost:5000/web:v1", None)),
            "IfNotPresent"
        );
        assert_eq!(pull_policy(&c("busybox", Some("Never"))), "Never");
    }
}
