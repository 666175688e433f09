//! The kinds built from what the API server knows of itself
//! ([`Backing::ServerState`]): APIServices (every served group-version)
//! and ComponentStatuses (the control plane's health). Get and list only
//! (with label and field selectors, Tables); anything else is 405, and a
//! deprecated kind's every answer carries its `Warning`.

use axum::response::Response;
use http::{Method, StatusCode};
use minik_api::kinds::{Backing, ComponentHealth, ServerView};
use minik_api::tables;
use serde_json::{json, Value};

use super::{json_response, Ctx};
use crate::error::ApiError;
use crate::request::Output;
use crate::AppState;

/// What the API server tells these kinds.
struct View<'a>(&'a AppState);

impl ServerView for View<'_> {
    fn group_versions(&self) -> Vec<(String, String)> {
        self.0
            .served()
            .group_versions()
            .into_iter()
            .map(|(g, v)| (g.to_string(), v.to_string()))
            .collect()
    }
    fn started(&self) -> jiff::Timestamp {
        self.0.started
    }
    fn components(&self) -> Vec<ComponentHealth> {
        let watching = |name: &str, client: &str| {
            let open = self.0.watches.watching(client);
            ComponentHealth {
                name: name.into(),
                healthy: open > 0,
                message: if open > 0 { "ok".into() } else { String::new() },
                error: if open > 0 {
                    String::new()
                } else {
                    format!("{client} holds no watch on the API server: it is not running")
                },
            }
        };
        // The store answers a read, or it does not.
        let store = match self
            .0
            .store
            .scan("/registry/core/namespaces/", None, &mut |_, _| false)
        {
            Ok(_) => ComponentHealth {
                name: "store-0".into(),
                healthy: true,
                message: "ok (sled)".into(),
                error: String::new(),
            },
            Err(e) => ComponentHealth {
                name: "store-0".into(),
                healthy: false,
                message: String::new(),
                error: e.to_string(),
            },
        };
        vec![
            watching("controller-manager", "minik-controller"),
            watching("scheduler", "minik-scheduler"),
            store,
        ]
    }
}

/// Serves a request to a server-state kind.
pub async fn serve(ctx: Ctx, method: &Method, is_watch: bool) -> Result<Response, ApiError> {
    debug_assert_eq!(ctx.info().strategy.backing(), Backing::ServerState);
    let info = ctx.info();
    if *method != Method::GET || is_watch || ctx.target.subresource.is_some() {
        return Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({method} {})",
            info.qualified_plural()
        )));
    }
    let objects = info.strategy.server_state(&View(&ctx.state));
    let now = jiff::Timestamp::now();
    let body = match &ctx.target.name {
        Some(name) => {
            let obj = objects
                .into_iter()
                .find(|o| minik_api::meta::name(o) == name)
                .ok_or_else(|| ApiError::not_found(info, name))?;
            match ctx.output {
                Output::Table(include) => tables::table(info, &[obj], now, include, "", None),
                _ => obj,
            }
        }
        None => {
            let labels = ctx.params.label_selector()?;
            let fields = ctx.params.field_selector()?;
            let items: Vec<Value> = objects
                .into_iter()
                .filter(|o| labels.matches_object(o) && fields.matches(o))
                .collect();
            match ctx.output {
                Output::Table(include) => tables::table(info, &items, now, include, "", None),
                _ => json!({
                    "kind": format!("{}List", info.kind),
                    "apiVersion": info.api_version(),
                    "metadata": {},
                    "items": items,
                }),
            }
        }
    };
    Ok(json_response(StatusCode::OK, &body))
}
