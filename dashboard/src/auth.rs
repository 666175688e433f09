//! The access token: a request carries it as `?token=` (the printed URL)
//! or in the `minik-dashboard-token` cookie set on the first such request,
//! as Jupyter does. Without it: 403. The cookie is `SameSite=Strict` and
//! `HttpOnly`, and the controls take JSON bodies only, so another site open
//! in the same browser can neither read the page nor post an action.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

use crate::AppState;

const COOKIE: &str = "minik-dashboard-token";

/// 128 random bits as 32 hex digits.
pub fn new_token() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without stopping at the first difference (the time a
/// comparison takes says nothing about how much of a guess was right).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

fn from_query(req: &Request) -> Option<String> {
    req.uri().query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == "token").then(|| v.to_string())
    })
}

fn from_cookie(req: &Request) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == COOKIE).then(|| v.to_string())
        })
}

/// Lets a request through only with the token; remembers it in a cookie.
pub async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let in_query = from_query(&req).is_some_and(|t| same(&t, &state.token));
    let in_cookie = from_cookie(&req).is_some_and(|t| same(&t, &state.token));
    if !in_query && !in_cookie {
        return (
            StatusCode::FORBIDDEN,
            "403 Forbidden: open the URL with the token that `miniktl cluster up` printed\n",
        )
            .into_response();
    }
    let mut response = next.run(req).await;
    if in_query && !in_cookie {
        let cookie = format!(
            "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
            state.token
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}
