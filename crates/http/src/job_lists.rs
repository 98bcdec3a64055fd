//! Job lists rendered once: the JSON body of a project's job list (and its
//! gzip form, for clients that accept it) for callers who see every job of
//! the project, kept while the project's job revision and its jobs' next
//! fire times stay as they were.
//!
//! A list of 10,000 jobs is 3 MB of JSON; building it for every request
//! costs more than sending it, and sending it compressed costs a tenth.
//! Callers who see only some jobs get a list built for them, every time.

use axum::body::Bytes;
use axum::http::header::{HeaderMap, HeaderValue, ACCEPT_ENCODING, CONTENT_ENCODING, VARY};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use foredeck_core::store::JobQuery;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// Bodies kept at most, in bytes (uncompressed and compressed together);
/// past that the cache starts over.
const MAX_BYTES: usize = 32 << 20;
/// Lists kept at most (one per project, API version and filter).
const MAX_LISTS: usize = 256;
/// Bodies shorter than this are sent as they are: compressing them saves
/// less than a packet.
const MIN_GZIP: usize = 1024;

/// What a list is rendered from besides the jobs: project, API version (in
/// every `href`) and the filters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ListKey {
    pub project: String,
    pub version: u32,
    pub query: JobQuery,
    pub flags: [Option<bool>; 3],
}

/// One rendered list: the revision and the next fire times it was built at,
/// its JSON, and its gzip form once a client asked for it.
#[derive(Debug)]
pub(crate) struct Rendered {
    revision: u64,
    next: HashMap<String, DateTime<Utc>>,
    json: Bytes,
    gzip: OnceCell<Bytes>,
}

impl Rendered {
    fn weight(&self) -> usize {
        self.json.len() + self.gzip.get().map_or(0, Bytes::len)
    }
}

/// The rendered lists of this server.
#[derive(Debug, Default)]
pub(crate) struct JobLists {
    lists: Mutex<HashMap<ListKey, Arc<Rendered>>>,
}

impl JobLists {
    /// The list rendered for `key` at `revision` with these next fire
    /// times, if one is kept.
    pub fn get(
        &self,
        key: &ListKey,
        revision: u64,
        next: &HashMap<String, DateTime<Utc>>,
    ) -> Option<Arc<Rendered>> {
        let lists = self.lists.lock().unwrap_or_else(|p| p.into_inner());
        lists
            .get(key)
            .filter(|r| r.revision == revision && r.next == *next)
            .cloned()
    }

    /// Keeps a list rendered at `revision` and returns it.
    pub fn put(
        &self,
        key: ListKey,
        revision: u64,
        next: HashMap<String, DateTime<Utc>>,
        json: Bytes,
    ) -> Arc<Rendered> {
        let rendered = Arc::new(Rendered {
            revision,
            next,
            json,
            gzip: OnceCell::new(),
        });
        let mut lists = self.lists.lock().unwrap_or_else(|p| p.into_inner());
        // A list rendered from an older revision while this one was
        // rendered must not replace it.
        if lists.get(&key).is_some_and(|r| r.revision > revision) {
            return rendered;
        }
        let weight: usize = lists.values().map(|r| r.weight()).sum();
        if lists.len() >= MAX_LISTS || weight + rendered.weight() > MAX_BYTES {
            lists.clear();
        }
        if rendered.weight() <= MAX_BYTES {
            lists.insert(key, Arc::clone(&rendered));
        }
        rendered
    }
}

/// Whether the request's `Accept-Encoding` takes gzip (`gzip`, `x-gzip` or
/// `*`, with a quality above 0).
pub(crate) fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let quality = parts
                .find_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    (k.trim().eq_ignore_ascii_case("q")).then(|| v.trim().parse::<f32>().ok())?
                })
                .unwrap_or(1.0);
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(quality > 0.0);
            } else if coding == "*" {
                any = Some(quality > 0.0);
            }
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// The response for a rendered list: its gzip form when the client takes
/// gzip and the body is worth compressing (compressed once per list, off
/// the request threads), else its JSON.
pub(crate) async fn respond(rendered: &Rendered, gzip: bool) -> Response {
    let vary = [(VARY, HeaderValue::from_static("accept-encoding"))];
    let json = [(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )];
    if gzip && rendered.json.len() >= MIN_GZIP {
        let body = rendered
            .gzip
            .get_or_init(|| {
                let json = rendered.json.clone();
                async move {
                    tokio::task::spawn_blocking(move || compress(&json))
                        .await
                        .unwrap_or_default()
                }
            })
            .await;
        // an empty body: compression failed; the JSON goes as it is
        if !body.is_empty() {
            let encoding = [(CONTENT_ENCODING, HeaderValue::from_static("gzip"))];
            return (json, vary, encoding, body.clone()).into_response();
        }
    }
    (json, vary, rendered.json.clone()).into_response()
}

/// `json` gzip-compressed; empty if compression failed (it writes to
/// memory, so it does not).
fn compress(json: &[u8]) -> Bytes {
    let mut out = flate2::write::GzEncoder::new(
        Vec::with_capacity(json.len() / 8),
        flate2::Compression::default(),
    );
    match out.write_all(json).and_then(|()| out.finish()) {
        Ok(v) => Bytes::from(v),
        Err(_) => Bytes::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn gzip_is_taken_when_offered_with_a_quality_above_zero() {
        for (offered, takes) in [
            (&[][..], false),
            (&["gzip"][..], true),
            (&["GZIP"][..], true),
            (&["gzip, deflate, br"][..], true),
            (&["deflate", "x-gzip;q=0.5"][..], true),
            (&["br;q=1.0, gzip;q=0.8, *;q=0.1"][..], true),
            (&["gzip;q=0"][..], false),
            (&["gzip; q=0.0, deflate"][..], false),
            (&["*"][..], true),
            (&["*;q=0"][..], false),
            (&["gzip;q=0, *"][..], false),
            (&["identity"][..], false),
            (&["br, zstd"][..], false),
        ] {
            assert_eq!(accepts_gzip(&headers(offered)), takes, "{offered:?}");
        }
    }

    fn key(project: &str) -> ListKey {
        ListKey {
            project: project.into(),
            version: 59,
            query: JobQuery::default(),
            flags: [None; 3],
        }
    }

    #[test]
    fn a_list_is_found_only_at_its_revision_and_fire_times() {
        let lists = JobLists::default();
        let none = HashMap::new();
        lists.put(key("p"), 3, none.clone(), Bytes::from_static(b"[]"));
        assert!(lists.get(&key("p"), 3, &none).is_some());
        assert!(lists.get(&key("p"), 4, &none).is_none());
        assert!(lists.get(&key("q"), 3, &none).is_none());
        let mut fires = HashMap::new();
        fires.insert("job".to_owned(), Utc::now());
        assert!(lists.get(&key("p"), 3, &fires).is_none());
        // an older rendering finished late does not replace a newer one
        lists.put(key("p"), 5, none.clone(), Bytes::from_static(b"[1]"));
        lists.put(key("p"), 4, none.clone(), Bytes::from_static(b"[0]"));
        assert!(lists.get(&key("p"), 5, &none).is_some());
        assert!(lists.get(&key("p"), 4, &none).is_none());
    }

    #[test]
    fn kept_bodies_stay_within_their_bound() {
        let lists = JobLists::default();
        let none = HashMap::new();
        let big = Bytes::from(vec![b' '; MAX_BYTES / 3]);
        for p in ["a", "b", "c", "d"] {
            lists.put(key(p), 1, none.clone(), big.clone());
        }
        let kept = lists.lists.lock().unwrap();
        let weight: usize = kept.values().map(|r| r.weight()).sum();
        assert!(weight <= MAX_BYTES, "{weight}");
        assert!(kept.contains_key(&key("d")), "the newest is kept");
    }

    #[tokio::test]
    async fn the_gzip_form_inflates_to_the_json() {
        let json: String = (0..500).map(|i| format!("{{\"id\":{i}}},")).collect();
        let lists = JobLists::default();
        let r = lists.put(key("p"), 1, HashMap::new(), Bytes::from(json.clone()));
        let resp = respond(&r, true).await;
        assert_eq!(resp.headers()[CONTENT_ENCODING], "gzip");
        assert_eq!(resp.headers()[VARY], "accept-encoding");
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(body.len() < json.len() / 4, "{}", body.len());
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut text)
            .unwrap();
        assert_eq!(text, json);
        // a short body goes as it is
        let short = lists.put(key("q"), 1, HashMap::new(), Bytes::from_static(b"[]"));
        let resp = respond(&short, true).await;
        assert!(resp.headers().get(CONTENT_ENCODING).is_none());
    }
}
