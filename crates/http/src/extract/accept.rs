//! The format a request asks its answer in, decided as Rundeck (Grails)
//! decides `response.format`: the `format` parameter as given, else the
//! `Accept` media type of highest quality among those Rundeck names
//! (`xml`: `text/xml`, `application/xml`; `json`: `application/json`,
//! `text/json`; `yaml`: `text/yaml`, `application/yaml`; `html`;
//! `text`: `text/plain`; `all`: `*/*`), else none.

use super::params::param;
use crate::error::{ApiError, Code};
use axum::extract::Request;
use axum::http::header::{HeaderMap, ACCEPT};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Rundeck's format names for media types.
const TYPES: [(&str, &str); 10] = [
    ("text/xml", "xml"),
    ("application/xml", "xml"),
    ("application/json", "json"),
    ("text/json", "json"),
    ("text/yaml", "yaml"),
    ("application/yaml", "yaml"),
    ("text/html", "html"),
    ("application/xhtml+xml", "html"),
    ("text/plain", "text"),
    ("*/*", "all"),
];

/// The requested answer format (`xml`, `json`, `yaml`, `html`, `text`,
/// `all`, or a `format` parameter Rundeck does not know), if any.
pub(crate) fn response_format(q: &[(String, String)], headers: &HeaderMap) -> Option<String> {
    if let Some(f) = param(q, "format") {
        return Some(f.to_owned());
    }
    accepted(headers).first().map(|name| (*name).to_owned())
}

/// The formats the `Accept` header names, best quality first (the
/// header's order among equals); types Rundeck has no name for and types
/// of quality 0 are left out.
fn accepted(headers: &HeaderMap) -> Vec<&'static str> {
    let Some(accept) = headers.get(ACCEPT).and_then(|a| a.to_str().ok()) else {
        return Vec::new();
    };
    let mut found: Vec<(f32, &'static str)> = Vec::new();
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if let Some((_, name)) = TYPES.iter().find(|(t, _)| *t == media) {
            if quality > 0.0 {
                found.push((quality, name));
            }
        }
    }
    // stable: equal qualities keep the header's order
    found.sort_by(|a, b| b.0.total_cmp(&a.0));
    found.into_iter().map(|(_, name)| name).collect()
}

/// The format a JSON-only answer cannot be given in, as Grails' `respond`
/// with `formats: ['json']` decides (Rundeck's `responseFormats` without its
/// `legacyXml` feature): a `format` parameter Rundeck knows other than
/// `json` or `all`; else, when the `Accept` header names formats and none
/// of them is `json` or `all` (`*/*`), the best of them. An unknown
/// `format` parameter falls back to the header, a missing header is `all`.
pub(crate) fn refused_by_json_only(q: &[(String, String)], headers: &HeaderMap) -> Option<String> {
    if let Some(f) = param(q, "format") {
        if TYPES.iter().any(|(_, name)| *name == f) {
            return (!matches!(f, "json" | "all")).then(|| f.to_owned());
        }
    }
    let names = accepted(headers);
    if names.iter().any(|n| matches!(*n, "json" | "all")) {
        return None;
    }
    names.first().map(|n| (*n).to_owned())
}

/// Middleware for the routes Rundeck answers with Grails' `respond(data,
/// [formats: responseFormats])`: once the handler succeeded, an answer
/// asked for in a format other than JSON ([`refused_by_json_only`]) is
/// Rundeck's 406 instead (Rundeck checks the format after authorization
/// and lookup, so their errors still come first). Rundeck's 406 has no
/// body; Foredeck's carries the usual error body naming the format.
pub(crate) async fn json_only(req: Request, next: Next) -> Response {
    json_only_from(0, req, next).await
}

/// [`json_only`] from API 18: the job lists (`respondApiJobsList`) answer
/// through `withFormat`, JSON for every format, before it.
pub(crate) async fn json_only_from_v18(req: Request, next: Next) -> Response {
    json_only_from(18, req, next).await
}

async fn json_only_from(min: u32, req: Request, next: Next) -> Response {
    let q: Vec<(String, String)> =
        serde_urlencoded::from_str(req.uri().query().unwrap_or("")).unwrap_or_default();
    let version = req
        .uri()
        .path()
        .split('/')
        .nth(2)
        .and_then(|v| v.parse::<u32>().ok());
    let refused =
        refused_by_json_only(&q, req.headers()).filter(|_| version.is_some_and(|v| v >= min));
    let resp = next.run(req).await;
    match refused {
        Some(format) if resp.status().is_success() => ApiError::of(
            Code::FormatNotAcceptable,
            format!("The format is not valid: {format} (this route answers JSON only)"),
        )
        .into_response(),
        _ => resp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// A request's query parameters and headers, with `accept` as its
    /// `Accept` header when given.
    fn request(q: &[(&str, &str)], accept: Option<&str>) -> (Vec<(String, String)>, HeaderMap) {
        let q = q
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let mut h = HeaderMap::new();
        if let Some(a) = accept {
            h.insert(
                ACCEPT,
                HeaderValue::from_str(a).unwrap_or(HeaderValue::from_static("")),
            );
        }
        (q, h)
    }

    fn fmt(q: &[(&str, &str)], accept: Option<&str>) -> Option<String> {
        let (q, h) = request(q, accept);
        response_format(&q, &h)
    }

    #[test]
    fn parameter_then_best_known_accept_type() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>, Option<&'a str>);
        let cases: [Case; 9] = [
            (&[("format", "xml")], Some("application/json"), Some("xml")),
            (&[("format", "DNE")], None, Some("DNE")),
            (&[], Some("application/xml"), Some("xml")),
            (&[], Some("Text/XML; charset=utf-8"), Some("xml")),
            (
                &[],
                Some("application/json, application/xml;q=0.9"),
                Some("json"),
            ),
            (&[], Some("application/xml;q=0.5, text/yaml"), Some("yaml")),
            (&[], Some("image/png, */*;q=0.1"), Some("all")),
            (&[], Some("image/png"), None),
            (&[], None, None),
        ];
        for (q, accept, want) in cases {
            assert_eq!(fmt(q, accept).as_deref(), want, "{q:?} {accept:?}");
        }
    }

    #[test]
    fn json_only_refuses_what_grails_respond_refuses() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>, Option<&'a str>);
        let cases: [Case; 12] = [
            (&[], None, None),
            (&[], Some("application/json"), None),
            (&[], Some("*/*"), None),
            (&[], Some("application/xml"), Some("xml")),
            (&[], Some("text/xml, application/json;q=0.1"), None),
            (&[], Some("application/xml, */*;q=0.1"), None),
            (&[], Some("text/plain"), Some("text")),
            (&[], Some("image/png"), None),
            (&[("format", "xml")], Some("application/json"), Some("xml")),
            (&[("format", "yaml")], None, Some("yaml")),
            (&[("format", "json")], Some("application/xml"), None),
            (&[("format", "DNE")], Some("application/xml"), Some("xml")),
        ];
        for (q, accept, want) in cases {
            let (q, h) = request(q, accept);
            assert_eq!(
                refused_by_json_only(&q, &h).as_deref(),
                want,
                "{q:?} {accept:?}"
            );
        }
    }
}
