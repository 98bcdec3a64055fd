//! The UI's style sheet and script, compiled into the binary and served
//! under names carrying a hash of their content, so that browsers keep
//! them for good and a new build's files have new names.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

struct Asset {
    /// Served as `/static/{file}`: `app.{hash}.css`.
    file: String,
    content_type: &'static str,
    body: &'static str,
}

fn assets() -> &'static [Asset; 2] {
    static ASSETS: OnceLock<[Asset; 2]> = OnceLock::new();
    ASSETS.get_or_init(|| {
        let named = |stem: &str, ext: &str, content_type, body: &'static str| {
            let hash = hex::encode(Sha256::digest(body.as_bytes()));
            Asset {
                file: format!("{stem}.{}.{ext}", &hash[..16]),
                content_type,
                body,
            }
        };
        [
            named(
                "app",
                "css",
                "text/css; charset=utf-8",
                include_str!("static/app.css"),
            ),
            named(
                "app",
                "js",
                "text/javascript; charset=utf-8",
                include_str!("static/app.js"),
            ),
        ]
    })
}

/// Where the style sheet is served.
pub(crate) fn css_url() -> String {
    format!("/static/{}", assets()[0].file)
}

/// Where the script is served.
pub(crate) fn js_url() -> String {
    format!("/static/{}", assets()[1].file)
}

pub(super) async fn serve(Path(file): Path<String>) -> Response {
    match assets().iter().find(|a| a.file == file) {
        Some(a) => (
            [
                (header::CONTENT_TYPE, a.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            a.body,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "No such file.",
        )
            .into_response(),
    }
}
