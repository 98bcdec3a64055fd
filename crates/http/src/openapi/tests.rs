#![allow(clippy::unwrap_used)]

use super::document;
use super::ops::OPS;
use crate::security_tests::sweep_routes::registered_routes;
use serde_json::Value;
use std::collections::BTreeSet;

/// The table and the router name the same routes and methods under
/// `/api/{v}/` (the catch-all 404 aside): a route cannot be added without
/// its description, nor described without existing.
#[test]
fn the_document_names_every_api_route_and_no_other() {
    let registered: BTreeSet<(String, String)> = registered_routes()
        .into_iter()
        .filter(|(_, p)| p.starts_with("/api/{v}/") && p != "/api/{v}/{*rest}")
        .collect();
    let described: BTreeSet<(String, String)> = OPS
        .iter()
        .map(|o| (o.method.to_owned(), o.path.to_owned()))
        .collect();
    assert_eq!(OPS.len(), described.len(), "an entry is in the table twice");
    let missing: Vec<_> = registered.difference(&described).collect();
    let extra: Vec<_> = described.difference(&registered).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "routes without an entry in crates/http/src/openapi/ops.rs (add one; docs/API-COVERAGE.md \
         then needs its row too): {missing:?}; entries without a route: {extra:?}"
    );
}

/// Every `$ref` resolves, path parameters are declared, operation ids are
/// unique: what schemathesis and code generators need.
#[test]
fn the_document_is_consistent() {
    let doc = document(59);
    assert_eq!(doc["servers"][0]["url"], "/api/59");
    let text = doc.to_string();
    for r in text.split("\"$ref\":\"").skip(1) {
        let name = r.split('"').next().unwrap();
        let key = name.strip_prefix("#/components/schemas/").unwrap();
        assert!(
            doc["components"]["schemas"].get(key).is_some(),
            "unresolved {name}"
        );
    }
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(ids.insert(op["operationId"].as_str().unwrap().to_owned()));
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            let in_path: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .map(|s| s.trim_start_matches('*'))
                .collect();
            assert_eq!(declared, in_path, "{method} {path}");
            assert!(op["responses"]["default"].is_object(), "{method} {path}");
        }
    }
}

/// The route answers the document for the version of its path, to an
/// authenticated caller only.
#[tokio::test]
async fn the_route_serves_the_document_of_its_version() {
    use crate::auth::{hash_token, TOKEN_HEADER};
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use foredeck_core::store::ApiToken;
    use std::sync::Arc;
    let store: Arc<dyn foredeck_core::Store> = Arc::new(foredeck_core::MemoryStore::new());
    store
        .create_token(&ApiToken {
            id: "t".into(),
            token_hash: hash_token("reader-token"),
            user: "reader".into(),
            roles: vec!["dev".into()],
            name: None,
            creator: "test".into(),
            created: chrono::Utc::now(),
            expiration: None,
        })
        .await
        .unwrap();
    let state = crate::ApiState::new(store, Arc::new(crate::RoleAuthorizer::new(["admin"])));
    let get = |token: Option<&str>| {
        let mut req = Request::builder().uri("/api/45/openapi.json");
        if let Some(t) = token {
            req = req.header(TOKEN_HEADER, t);
        }
        req.body(Body::empty()).unwrap()
    };
    let (status, _, _) = crate::tests::answer(&state, get(None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, bytes) = crate::tests::answer(&state, get(Some("reader-token"))).await;
    let body = String::from_utf8(bytes.to_vec()).unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    assert_eq!(doc["servers"][0]["url"], "/api/45");
    assert!(doc["paths"]["/system/info"]["get"].is_object());
}

/// A route of the coverage table or of the document, with every
/// parameter as `{}` and without the `/api/{v}` prefix.
fn shape(path: &str) -> String {
    path.trim_start_matches("/api/{v}")
        .split('/')
        .map(|s| {
            if (s.starts_with('{') && s.ends_with('}')) || (s.starts_with('[') && s.ends_with(']'))
            {
                "{}"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether the coverage table's Rundeck route `row` (`/*` a subtree) is
/// served by the document's `path`.
fn covers(row: &str, path: &str) -> bool {
    let (row, path) = (shape(row), path.trim_start_matches("/api/{v}"));
    if let Some(prefix) = row.strip_suffix("/*") {
        let p = shape(path);
        return p == prefix || p.starts_with(&format!("{prefix}/"));
    }
    if let Some((head, _)) = path.split_once("{*") {
        // a catch-all serves every deeper Rundeck path
        return row.starts_with(&shape(head)) && row.len() > shape(head).len();
    }
    row == shape(path)
}

/// `docs/API-COVERAGE.md` says `yes` exactly for the Rundeck routes the
/// router serves, and lists every other route it serves as Foredeck's own.
#[test]
fn the_coverage_table_matches_the_router() {
    let doc = include_str!("../../../../docs/API-COVERAGE.md");
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().trim_matches('`').to_owned())
            .collect()
    };
    let (rundeck, own) = doc
        .split_once("## Routes Foredeck adds")
        .expect("the table of Foredeck's own routes");
    let mut served = BTreeSet::new();
    for line in rundeck
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| Method"))
    {
        let c = cells(line);
        let (method, route, said) = (&c[0], &c[1], &c[2]);
        let hits: Vec<_> = OPS
            .iter()
            .filter(|o| o.method == method && covers(route, o.path))
            .collect();
        match said.as_str() {
            "yes" => assert!(
                !hits.is_empty(),
                "{method} {route} says yes and is not served"
            ),
            "no" => assert!(
                hits.is_empty(),
                "docs/API-COVERAGE.md: {method} {route} says no and is served by {} (make it yes)",
                hits[0].path
            ),
            other => panic!("{method} {route}: {other:?} is neither yes nor no"),
        }
        served.extend(hits.iter().map(|o| (o.method, o.path)));
    }
    let listed: BTreeSet<(String, String)> = own
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| Method"))
        .map(|l| {
            let c = cells(l);
            (c[0].clone(), format!("/api/{{v}}{}", c[1]))
        })
        .collect();
    for o in OPS {
        assert!(
            served.contains(&(o.method, o.path))
                || listed.contains(&(o.method.to_owned(), o.path.to_owned())),
            "{} {} is in neither table of docs/API-COVERAGE.md (a Rundeck route: its row says yes; \
             else a row under \"Routes Foredeck adds\")",
            o.method,
            o.path
        );
    }
}
