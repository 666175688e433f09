//! Watches, as methods on [`Ctx`], and the one wait built on them that
//! several commands share ([`wait_gone`]).
//!
//! Events arrive as `(type, object)` pairs of plain JSON — `ADDED`,
//! `MODIFIED`, `DELETED`, `BOOKMARK` — so a watch of server-side Tables
//! (`get -w`) and a watch of objects look the same to the caller. An
//! `ERROR` event (410 Gone after the history moved on) ends the stream
//! with an error; callers re-GET and watch again from the new
//! resourceVersion, as kubectl's watch tools do. Nothing here polls.

use futures::{Stream, StreamExt};
use kube::core::WatchEvent;
use minik_api::ResourceInfo;
use serde_json::Value;

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::url::{encode_query, resource_path};

impl Ctx {
    /// A watch on one named object, from `resource_version` on (what
    /// `delete --wait`, `logs -f`, `rollout status` and `wait` follow).
    pub async fn watch_object(
        &self,
        info: &ResourceInfo,
        ns: Option<&str>,
        name: &str,
        resource_version: String,
    ) -> Result<impl Stream<Item = Result<(String, Value)>> + use<>> {
        let params = vec![
            ("fieldSelector", format!("metadata.name={name}")),
            ("watch", "1".to_string()),
            ("resourceVersion", resource_version),
        ];
        let path = format!(
            "{}{}",
            resource_path(info, ns, None, None),
            encode_query(&params)
        );
        self.raw_watch(&path, "application/json").await
    }

    /// A watch on one object from the version `obj` (just read) has: every
    /// change after that read, none missed.
    pub async fn watch_after(
        &self,
        info: &ResourceInfo,
        ns: &str,
        name: &str,
        obj: &Value,
    ) -> Result<impl Stream<Item = Result<(String, Value)>> + use<>> {
        self.watch_object(info, Some(ns), name, resource_version(obj))
            .await
    }

    /// A watch on any path (which must carry `watch=1`), events as JSON.
    pub async fn raw_watch(
        &self,
        path: &str,
        accept: &str,
    ) -> Result<impl Stream<Item = Result<(String, Value)>> + use<>> {
        let client = self.client().await?;
        let server = self.server().await?;
        let req = http::Request::get(path)
            .header(http::header::ACCEPT, accept)
            .body(Vec::new())
            .map_err(|e| Error::Client(e.to_string()))?;
        let stream = match client.request_events::<Value>(req).await {
            Ok(s) => s,
            Err(e) => return Err(self.kube_err(e).await),
        };
        Ok(StreamExt::map(
            stream,
            move |item: std::result::Result<WatchEvent<Value>, kube::Error>| {
                item.map_err(|e| Error::from_kube(e, &server))
                    .and_then(|ev| match ev {
                        WatchEvent::Added(o) => Ok(("ADDED".to_string(), o)),
                        WatchEvent::Modified(o) => Ok(("MODIFIED".to_string(), o)),
                        WatchEvent::Deleted(o) => Ok(("DELETED".to_string(), o)),
                        WatchEvent::Bookmark(b) => Ok((
                            "BOOKMARK".to_string(),
                            serde_json::to_value(b).unwrap_or_default(),
                        )),
                        WatchEvent::Error(s) => Err(Error::Api {
                            code: s.code,
                            reason: s.reason,
                            message: s.message,
                        }),
                    })
            },
        ))
    }
}

/// The resourceVersion to watch from after reading `obj` (`0`: any).
pub fn resource_version(obj: &Value) -> String {
    minik_api::meta::meta_str(obj, "resourceVersion")
        .unwrap_or("0")
        .to_string()
}

/// Waits until the object `before` (same name, same uid) no longer exists
/// — `delete --wait` and `wait --for=delete`. A new object under the same
/// name (another uid) counts as gone.
pub async fn wait_gone(
    ctx: &Ctx,
    info: &ResourceInfo,
    ns: &str,
    name: &str,
    before: &Value,
) -> Result<()> {
    let uid = minik_api::meta::meta_str(before, "uid")
        .unwrap_or("")
        .to_string();
    loop {
        let current = ctx.get_opt(info, ns, name).await?;
        let Some(current) = current else {
            return Ok(());
        };
        if minik_api::meta::meta_str(&current, "uid").unwrap_or("") != uid {
            return Ok(());
        }
        let mut stream = Box::pin(ctx.watch_after(info, ns, name, &current).await?);
        while let Some(ev) = stream.next().await {
            match ev {
                Ok((kind, obj))
                    if kind == "DELETED"
                        && minik_api::meta::meta_str(&obj, "uid").unwrap_or("") == uid =>
                {
                    return Ok(());
                }
                Ok(_) => {}
                // 410 Gone or a dropped stream: look again.
                Err(_) => break,
            }
        }
    }
}
