//! `describe configmap` and `describe secret` — kubectl's describers:
//! a ConfigMap shows its data; a Secret only the size of each value.

use base64::Engine;
use serde_json::Value;

use crate::context::Ctx;
use crate::describe::header::Header;
use crate::describe::{events, str_at, Writer};
use crate::error::Result;

fn sorted(obj: &Value, field: &str) -> Vec<(String, Value)> {
    let mut v: Vec<(String, Value)> = obj
        .get(field)
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

pub async fn describe_configmap(
    ctx: &Ctx,
    cm: &Value,
    show_events: bool,
    w: &mut Writer,
) -> Result<()> {
    Header::new(cm).write(w);
    w.line(0, "");
    w.line(0, "Data");
    w.line(0, "====");
    for (k, v) in sorted(cm, "data") {
        w.line(0, &format!("{k}:"));
        w.line(0, "----");
        w.line(0, v.as_str().unwrap_or(""));
        w.line(0, "");
    }
    w.line(0, "");
    w.line(0, "BinaryData");
    w.line(0, "====");
    for (k, v) in sorted(cm, "binaryData") {
        let len = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .map(|b| b.len())
            .unwrap_or(0);
        w.line(0, &format!("{k}: {len} bytes"));
    }
    w.line(0, "");
    if show_events {
        let evs = events::for_object(ctx, cm).await?;
        events::write(w, &evs);
    }
    Ok(())
}

pub fn describe_secret(secret: &Value, w: &mut Writer) {
    Header::new(secret).write(w);
    w.line(0, "");
    w.line(0, &format!("Type:\t{}", str_at(secret, "/type")));
    w.line(0, "");
    w.line(0, "Data");
    w.line(0, "====");
    let token_type = str_at(secret, "/type") == "kubernetes.io/service-account-token";
    for (k, v) in sorted(secret, "data") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .unwrap_or_default();
        if token_type && k == "token" {
            w.line(0, &format!("{k}:\t{}", String::from_utf8_lossy(&bytes)));
        } else {
            w.line(0, &format!("{k}:\t{} bytes", bytes.len()));
        }
    }
}
