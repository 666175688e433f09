//! Step mode on the page: the ConfigMap `kube-system/minik-step-mode`
//! (`minik_client::step_mode`) as a compact object (`k: "step"`: the mode,
//! steps granted and taken, what waits with its plan, the last step run),
//! and the three controls — pause, step, resume — each the ConfigMap write
//! `miniktl controllers pause|step|resume` makes, answered with that command.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::watcher;
use minik_client::step_mode::{self, StepState};
use serde_json::{json, Value};

/// The watch the model opens: that one ConfigMap, by name.
pub fn watch_config() -> watcher::Config {
    watcher::Config::default().fields(&format!("metadata.name={}", step_mode::NAME))
}

/// The compact form the page draws its step-mode bar from.
pub fn compact(cm: &ConfigMap) -> Value {
    let state = StepState::from_config_map(Some(cm));
    json!({
        "k": "step",
        "id": crate::compact::id(cm),
        "stepping": state.stepping,
        "granted": state.granted,
        "taken": state.taken,
        "waiting": state.waiting,
        "waitingCount": state.waiting_count,
        "last": state.last,
    })
}

/// The equivalent command of a step-mode control.
pub fn command(stepping: Option<bool>) -> String {
    match stepping {
        Some(true) => "miniktl controllers pause".into(),
        Some(false) => "miniktl controllers resume".into(),
        None => "miniktl controllers step".into(),
    }
}

/// Pause (`Some(true)`), resume (`Some(false)`) or grant one step (`None`).
pub async fn act(client: kube::Client, stepping: Option<bool>) -> Result<String, kube::Error> {
    match stepping {
        Some(on) => {
            step_mode::set_mode(&client, on).await?;
            Ok(if on {
                "controllers paused".into()
            } else {
                "controllers resumed".into()
            })
        }
        None => match step_mode::grant(&client, 1).await? {
            Some(granted) => Ok(format!("step {granted} granted")),
            None => Err(kube::Error::Api(
                kube::core::Status::failure("the controllers are not paused", "BadRequest")
                    .with_code(400)
                    .boxed(),
            )),
        },
    }
}
