//! The page, compiled into the binary (`dashboard/assets/`): one HTML file,
//! one script in plain JavaScript, one style sheet. No framework, no CDN:
//! the page works offline and a student can read all of it.

use axum::response::IntoResponse;
use http::header;

const INDEX: &str = include_str!("../assets/index.html");
const SCRIPT: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/app.css");

fn asset(body: &'static str, content_type: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

pub async fn index() -> impl IntoResponse {
    asset(INDEX, "text/html; charset=utf-8")
}

pub async fn script() -> impl IntoResponse {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

pub async fn style() -> impl IntoResponse {
    asset(STYLE, "text/css; charset=utf-8")
}
