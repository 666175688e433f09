//! ServiceAccount tokens for projected volumes (kubelet's
//! `pkg/kubelet/token` manager): a pod's `serviceAccountToken` source is a
//! token bound to the pod, requested from the API server's TokenRequest
//! API with the source's audience and lifetime. Tokens are kept per pod
//! and source and renewed once 80 % of their life has passed (or after a
//! day), as kubelet does; every pod sync rewrites the volume, so a
//! container sees the new token in place before the old one expires.
//! The simulated runtime writes no volumes: it still requests and renews
//! each token on the same rule, but keeps only when it was issued and
//! when it expires, not the token (about 1 KB a pod).

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::Timestamp;
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};

use crate::Error;

/// What one token was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Wanted {
    pub namespace: String,
    pub service_account: String,
    pub pod_name: String,
    pub pod_uid: String,
    pub audience: Option<String>,
    pub expiration_seconds: i64,
}

struct Held {
    /// Empty when the caller did not want it kept.
    token: String,
    issued: Timestamp,
    expires: Timestamp,
}

/// Tokens by what they were asked for.
pub struct TokenManager {
    client: kube::Client,
    held: Mutex<HashMap<Wanted, Held>>,
}

impl TokenManager {
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            held: Mutex::new(HashMap::new()),
        }
    }

    /// The token for `wanted`: the one held while it is fresh, else a new
    /// one. `keep`: hold the token itself (to write it again at the next
    /// sync); without it only its times are held and the answer is empty
    /// while they are fresh (a token held by a keeping caller is still
    /// returned).
    pub async fn token(&self, wanted: &Wanted, keep: bool) -> Result<String, Error> {
        let now = Timestamp::now();
        if let Some(held) = self.held.lock().expect("not poisoned").get(wanted) {
            let usable = !keep || !held.token.is_empty();
            if usable && !needs_renewal(held.issued, held.expires, now) {
                return Ok(held.token.clone());
            }
        }
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), &wanted.namespace);
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: wanted.audience.iter().cloned().collect(),
                expiration_seconds: Some(wanted.expiration_seconds),
                bound_object_ref: Some(BoundObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("Pod".into()),
                    name: Some(wanted.pod_name.clone()),
                    uid: Some(wanted.pod_uid.clone()),
                }),
            },
            ..Default::default()
        };
        let answer: TokenRequest = api
            .create_subresource(
                "token",
                &wanted.service_account,
                &PostParams::default(),
                &request,
            )
            .await?;
        let status = answer
            .status
            .ok_or_else(|| Error::Runtime("the TokenRequest came back without a token".into()))?;
        let held = Held {
            token: if keep {
                status.token.clone()
            } else {
                String::new()
            },
            issued: now,
            expires: status.expiration_timestamp.0,
        };
        self.held
            .lock()
            .expect("not poisoned")
            .insert(wanted.clone(), held);
        Ok(status.token)
    }

    /// Forgets a pod's tokens (its volumes are gone).
    pub fn forget_pod(&self, pod_uid: &str) {
        self.held
            .lock()
            .expect("not poisoned")
            .retain(|w, _| w.pod_uid != pod_uid);
    }
}

/// kubelet's rule: renew past 80 % of the token's life, or after 24 hours.
fn needs_renewal(issued: Timestamp, expires: Timestamp, now: Timestamp) -> bool {
    let life = expires.as_second() - issued.as_second();
    let age = now.as_second() - issued.as_second();
    age * 10 > life * 8 || age > 24 * 3600
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A loopback API server answering TokenRequests with `t-<n>`, valid
    /// for an hour; returns a client for it and the requests' count.
    async fn token_server() -> (kube::Client, Arc<AtomicUsize>) {
        let asked = Arc::new(AtomicUsize::new(0));
        let count = asked.clone();
        let answer = move || {
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            let expires = Timestamp::now() + jiff::SignedDuration::from_hours(1);
            axum::Json(serde_json::json!({
                "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": []},
                "status": {"token": format!("t-{n}"), "expirationTimestamp": expires.to_string()},
            }))
        };
        let app = axum::Router::new().route(
            "/api/v1/namespaces/ns/serviceaccounts/default/token",
            axum::routing::post(move || std::future::ready(answer())),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let config = kube::Config::new(url.parse().unwrap());
        (kube::Client::try_from(config).unwrap(), asked)
    }

    #[tokio::test]
    async fn a_token_not_kept_is_still_requested_once_and_held_by_its_times() {
        let (client, asked) = token_server().await;
        let tokens = TokenManager::new(client);
        let wanted = Wanted {
            namespace: "ns".into(),
            service_account: "default".into(),
            pod_name: "p".into(),
            pod_uid: "uid-p".into(),
            audience: None,
            expiration_seconds: 3600,
        };
        // The simulated runtime: requested, then not kept and not asked
        // for again while fresh.
        assert_eq!(tokens.token(&wanted, false).await.unwrap(), "t-1");
        assert_eq!(tokens.token(&wanted, false).await.unwrap(), "");
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        // A caller that writes it gets a token, kept from then on.
        assert_eq!(tokens.token(&wanted, true).await.unwrap(), "t-2");
        assert_eq!(tokens.token(&wanted, true).await.unwrap(), "t-2");
        assert_eq!(asked.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn renews_past_four_fifths_of_the_life_or_a_day() {
        let issued = Timestamp::from_second(1_000_000).unwrap();
        let at = |s: i64| Timestamp::from_second(1_000_000 + s).unwrap();
        let hour = at(3600);
        assert!(!needs_renewal(issued, hour, at(2880)));
        assert!(needs_renewal(issued, hour, at(2881)));
        let year = at(365 * 24 * 3600);
        assert!(!needs_renewal(issued, year, at(24 * 3600)));
        assert!(needs_renewal(issued, year, at(24 * 3600 + 1)));
    }
}
