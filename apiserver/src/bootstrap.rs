//! What exists from the first start: the namespaces `default`,
//! `kube-system`, `kube-public` and `kube-node-lease`, as in every cluster.

use minik_api::catalogue;
use serde_json::json;

use crate::commit::{Outcome, Writer};
use crate::error::ApiError;
use crate::registry;
use crate::request::Target;

pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

pub async fn ensure_namespaces(writer: &Writer) -> Result<(), ApiError> {
    let info = catalogue::lookup("", "v1", "namespaces").expect("namespaces are served");
    for ns in SYSTEM_NAMESPACES {
        let target = Target::new(info, None, Some(ns.to_string()));
        let mut obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        registry::prepare_create(&target, &mut obj)?;
        writer
            .mutate(
                target.key(),
                Box::new(move |current| {
                    Ok(match current {
                        Some(existing) => Outcome::Unchanged(existing),
                        None => Outcome::Put(obj),
                    })
                }),
            )
            .await?;
    }
    Ok(())
}
