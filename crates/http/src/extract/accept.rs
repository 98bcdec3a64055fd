//! The format a request asks its answer in, decided as Rundeck (Grails)
//! decides `response.format`: the `format` parameter as given, else the
//! `Accept` media type of highest quality among those Rundeck names
//! (`xml`: `text/xml`, `application/xml`; `json`: `application/json`,
//! `text/json`; `yaml`: `text/yaml`, `application/yaml`; `html`;
//! `text`: `text/plain`; `all`: `*/*`), else none.

use super::params::param;
use axum::http::header::{HeaderMap, ACCEPT};

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
    let accept = headers.get(ACCEPT)?.to_str().ok()?;
    let mut best: Option<(f32, &str)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let Some((_, name)) = TYPES.iter().find(|(t, _)| *t == media) else {
            continue;
        };
        if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
            best = Some((quality, name));
        }
    }
    best.map(|(_, name)| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn fmt(q: &[(&str, &str)], accept: Option<&str>) -> Option<String> {
        let q: Vec<(String, String)> = q
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
}
