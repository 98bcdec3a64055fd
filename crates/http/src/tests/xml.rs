//! Answers to requests for XML (`Accept: application/xml`, `format=xml`),
//! route family by route family, as Rundeck answers them with its
//! `legacyXml` feature off (its default; docs/XML.md): nodes in
//! `resourcexml`, job documents in job XML, and JSON where Rundeck's only
//! XML branch is the legacy one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::adhoc::{finished_log, post_as, state, ADMIN};
use crate::auth::TOKEN_HEADER;
use crate::tests::answer;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::Value;
use std::collections::BTreeMap;

/// A GET with these headers: status, content type and body.
async fn get(
    s: &crate::ApiState,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, String, String) {
    let mut req = Request::get(uri).header(TOKEN_HEADER, ADMIN);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let (status, h, bytes) = answer(s, req.body(Body::empty()).unwrap()).await;
    let ctype = h
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ctype, String::from_utf8(bytes.to_vec()).unwrap())
}

/// Each element's name and attributes, in document order; panics on XML
/// that is not well formed.
fn elements(xml: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let mut r = Reader::from_str(xml);
    let mut out = Vec::new();
    loop {
        match r.read_event().unwrap_or_else(|e| panic!("{e}: {xml}")) {
            Event::Start(e) | Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        let k = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                        let v = a.unescape_value().unwrap().into_owned();
                        (k, v)
                    })
                    .collect();
                out.push((name, attrs));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// The `<node>`s of a `resourcexml` document by name, after checking the
/// root is `<project>`.
fn xml_nodes(xml: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let els = elements(xml);
    assert_eq!(els.first().map(|e| e.0.as_str()), Some("project"), "{xml}");
    els.into_iter()
        .filter(|(n, _)| n == "node")
        .map(|(_, a)| (a["name"].clone(), a))
        .collect()
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test]
async fn nodes_are_served_in_rundecks_resource_xml() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path()).await;
    let all = "/api/59/project/ops/resources";
    for (uri, headers) in [
        (format!("{all}?format=xml"), vec![]),
        (format!("{all}?format=resourcexml"), vec![]),
        (all.to_owned(), vec![("accept", "application/xml")]),
        (all.to_owned(), vec![("accept", "text/xml")]),
        // before API 23 a request naming no format gets XML
        ("/api/22/project/ops/resources".to_owned(), vec![]),
        // the parameter wins over the header
        (
            format!("{all}?format=xml"),
            vec![("accept", "application/json")],
        ),
    ] {
        let (status, ctype, body) = get(&s, &uri, &headers).await;
        assert_eq!(status, StatusCode::OK, "{uri} {headers:?}: {body}");
        assert!(ctype.starts_with("text/xml"), "{uri}: {ctype}");
        let nodes = xml_nodes(&body);
        let names: Vec<&str> = nodes.keys().map(String::as_str).collect();
        // the file's nodes and the server's own
        assert_eq!(names, ["db1", "localhost", "web1", "web2"], "{uri}: {body}");
        assert_eq!(nodes["web1"]["hostname"], "web1");
        assert_eq!(nodes["web1"]["tags"], "web");
        assert_eq!(nodes["db1"]["node-executor"], "local");
        assert_eq!(nodes["db1"]["username"], "", "node props always written");
    }

    // one node, and a filter
    let (status, ctype, body) = get(&s, "/api/59/project/ops/resource/web2?format=xml", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(ctype.starts_with("text/xml"));
    assert_eq!(xml_nodes(&body).keys().collect::<Vec<_>>(), ["web2"]);
    let (_, _, body) = get(
        &s,
        &format!("{all}?filter=tags%3A%20db"),
        &[("accept", "application/xml")],
    )
    .await;
    assert_eq!(xml_nodes(&body).keys().collect::<Vec<_>>(), ["db1"]);

    // JSON and YAML as before; from API 23 no format named is JSON
    for (uri, headers) in [
        (all.to_owned(), vec![]),
        (all.to_owned(), vec![("accept", "application/json")]),
        (all.to_owned(), vec![("accept", "*/*")]),
        // a name no generator has falls back to the Accept media type
        (
            format!("{all}?format=DNE"),
            vec![("accept", "application/json")],
        ),
    ] {
        let (status, ctype, body) = get(&s, &uri, &headers).await;
        assert_eq!(status, StatusCode::OK, "{uri} {headers:?}: {body}");
        assert_eq!(ctype, "application/json", "{uri} {headers:?}");
        assert_eq!(json(&body)["web1"]["hostname"], "web1");
    }
    let (_, ctype, _) = get(&s, &format!("{all}?format=DNE"), &[("accept", "text/xml")]).await;
    assert!(ctype.starts_with("text/xml"), "{ctype}");
    let (_, ctype, _) = get(&s, &format!("{all}?format=yaml"), &[]).await;
    assert!(ctype.starts_with("text/yaml"), "{ctype}");

    // a format no generator writes: Rundeck's 415, its JSON error body
    for (uri, headers) in [
        (format!("{all}?format=toml"), vec![]),
        (all.to_owned(), vec![("accept", "text/plain")]),
    ] {
        let (status, ctype, body) = get(&s, &uri, &headers).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{uri}");
        assert_eq!(ctype, "application/json");
        let v = json(&body);
        assert_eq!(v["errorCode"], "api.error.resource.format.unsupported");
        assert!(
            v["message"].as_str().unwrap().contains("unsupported"),
            "{v}"
        );
    }
}

#[tokio::test]
async fn execution_output_asked_for_as_xml_is_json_as_in_rundeck() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path()).await;
    let (status, v) = post_as(
        &s,
        "/api/59/project/ops/run/command",
        ADMIN,
        "application/json",
        r#"{"exec": "echo xml-check", "filter": "name: web1"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let id = v["execution"]["id"].as_u64().unwrap();
    finished_log(&s, id).await;
    let out = format!("/api/59/execution/{id}/output");
    for (uri, headers) in [
        (format!("{out}?format=xml"), vec![]),
        (out.clone(), vec![("accept", "application/xml")]),
        (out.clone(), vec![("accept", "application/json")]),
        (format!("{out}?format=json"), vec![("accept", "text/plain")]),
        (format!("{out}?format=DNE"), vec![]),
    ] {
        let (status, ctype, body) = get(&s, &uri, &headers).await;
        assert_eq!(status, StatusCode::OK, "{uri} {headers:?}: {body}");
        assert!(ctype.starts_with("application/json"), "{uri}: {ctype}");
        let v = json(&body);
        assert_eq!(v["id"], id.to_string(), "{v}");
        let logs: Vec<&str> = v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["log"].as_str())
            .collect();
        assert!(logs.contains(&"xml-check"), "{uri}: {v}");
    }
    for (uri, headers) in [
        (format!("{out}?format=text"), vec![]),
        (out.clone(), vec![("accept", "text/plain")]),
    ] {
        let (status, ctype, body) = get(&s, &uri, &headers).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(ctype.starts_with("text/plain"), "{uri}: {ctype}");
        assert!(body.contains("xml-check"), "{body}");
    }
}

#[tokio::test]
async fn routes_without_xml_but_in_rundecks_legacy_mode_answer_json() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path()).await;
    // Rundeck's withFormat('*' JSON; xml only with legacyXml): JSON, 200
    for uri in [
        "/api/59/system/info",
        "/api/59/projects",
        "/api/59/project/ops/executions",
    ] {
        for (q, headers) in [
            ("", vec![("accept", "application/xml")]),
            ("?format=xml", vec![]),
        ] {
            let (status, ctype, body) = get(&s, &format!("{uri}{q}"), &headers).await;
            assert_eq!(status, StatusCode::OK, "{uri}{q}: {body}");
            assert!(ctype.starts_with("application/json"), "{uri}{q}: {ctype}");
            json(&body);
        }
    }
}

#[tokio::test]
async fn json_only_routes_refuse_xml_with_406_as_grails_respond_does() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path()).await;
    for uri in [
        "/api/59/project/ops/jobs",
        "/api/59/scheduler/jobs",
        "/api/59/project/ops/sources",
        "/api/59/project/ops/source/1",
        "/api/59/project/ops/meta",
        "/api/59/tokens",
        "/api/59/plugin/list",
        "/api/59/feature",
        "/api/59/metrics",
    ] {
        for (q, headers) in [
            ("", vec![("accept", "application/xml")]),
            ("", vec![("accept", "text/xml")]),
            ("?format=xml", vec![]),
            ("?format=yaml", vec![("accept", "application/json")]),
        ] {
            let (status, ctype, body) = get(&s, &format!("{uri}{q}"), &headers).await;
            assert_eq!(
                status,
                StatusCode::NOT_ACCEPTABLE,
                "{uri}{q} {headers:?}: {body}"
            );
            assert_eq!(ctype, "application/json");
            assert_eq!(
                json(&body)["errorCode"],
                "api.error.item.unsupported-format"
            );
        }
        // JSON asked for, or anything (`*/*`), or nothing named
        for (q, headers) in [
            ("", vec![]),
            ("", vec![("accept", "application/json")]),
            ("", vec![("accept", "application/xml, */*;q=0.5")]),
            ("?format=json", vec![("accept", "application/xml")]),
        ] {
            let (status, ctype, body) = get(&s, &format!("{uri}{q}"), &headers).await;
            assert_eq!(status, StatusCode::OK, "{uri}{q} {headers:?}: {body}");
            assert!(ctype.starts_with("application/json"), "{uri}: {ctype}");
            json(&body);
        }
    }
    // before API 18 the job list answers every format in JSON
    let (status, ctype, body) = get(
        &s,
        "/api/17/project/ops/jobs",
        &[("accept", "application/xml")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(ctype.starts_with("application/json"));
    assert!(json(&body).is_array());
    // the lookup's error comes first, as in Rundeck
    let (status, _, body) = get(
        &s,
        "/api/59/job/no-such-job/info",
        &[("accept", "application/xml")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(json(&body)["errorCode"], "api.error.item.doesnotexist");
}
