//! The ServiceAccount controller: every active namespace has a ServiceAccount
//! named `default` (Kubernetes' `pkg/controller/serviceaccount`,
//! `ServiceAccountsController`). A namespace gets one when it appears, and
//! again if someone deletes it; a Terminating namespace gets none.
//!
//! Level-triggered and idempotent: the reconcile of a namespace looks for
//! its `default` ServiceAccount in the shared cache and creates it when it
//! is missing (an AlreadyExists answer means the cache was behind). No
//! Events (Kubernetes records none either).

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::ResourceExt;
use minik_client::errors;

use crate::context::{Built, RetryBackoff};
use crate::per_namespace::{self, Retries};
use crate::{Context, Error};

/// The ServiceAccount every namespace gets.
const DEFAULT: &str = "default";

struct State {
    ctx: Arc<Context>,
    accounts: Store<ServiceAccount>,
    retries: RetryBackoff,
}

/// Builds the controller over the shared Namespace and ServiceAccount informers.
pub fn build(ctx: &Arc<Context>) -> Built {
    let accounts = ctx.informers.get::<ServiceAccount>();
    let state = Arc::new(State {
        ctx: ctx.clone(),
        accounts: accounts.store(),
        retries: RetryBackoff::default(),
    });
    // A deleted `default` brings its namespace back for a look.
    per_namespace::build::<ServiceAccount, _, _>(
        ctx,
        "serviceaccount controller",
        DEFAULT,
        reconcile,
        state,
    )
}

impl Retries for State {
    fn retries(&self) -> &RetryBackoff {
        &self.retries
    }
}

/// Creates the namespace's `default` ServiceAccount if it is missing.
async fn reconcile(ns: Arc<Namespace>, state: Arc<State>) -> Result<Action, Error> {
    let name = ns.name_any();
    let terminating = per_namespace::terminating(&ns);
    let present = state
        .accounts
        .get(&ObjectRef::new(DEFAULT).within(&name))
        .is_some();
    if terminating || present {
        return Ok(Action::await_change());
    }
    let api: Api<ServiceAccount> = Api::namespaced(state.ctx.client.clone(), &name);
    let sa = ServiceAccount {
        metadata: kube::api::ObjectMeta {
            name: Some(DEFAULT.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &sa).await {
        Ok(_) => Ok(Action::await_change()),
        Err(e) if errors::is_already_exists(&e) => Ok(Action::await_change()),
        // The namespace went Terminating meanwhile: nothing to do there.
        Err(e) if errors::is_namespace_terminating(&e) => Ok(Action::await_change()),
        Err(e) => Err(e.into()),
    }
}
