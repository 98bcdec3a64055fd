//! `project/{p}/readme.md`, `motd.md`, `source/{n}` and its `resources`.

use super::*;

#[tokio::test]
async fn readme_and_motd_in_text_and_json() {
    let s = state().await;
    for file in ["readme.md", "motd.md"] {
        let uri = format!("/api/59/project/p/{file}");
        let (status, body) = get(&s, &uri, ADMIN).await;
        assert_error(
            status,
            &body,
            StatusCode::NOT_FOUND,
            "api.error.item.doesnotexist",
        );

        // text in, text out
        let (status, body) = send(
            &s,
            Method::PUT,
            &uri,
            ADMIN,
            Some("text/plain"),
            b"# Hello\nworld",
        )
        .await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "# Hello\nworld"));
        let (status, headers, bytes) =
            send_raw(&s, Method::GET, &uri, ADMIN, None, None, b"").await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
        assert_eq!(&bytes[..], b"# Hello\nworld");
        // JSON on request
        let (_, _, bytes) = send_raw(
            &s,
            Method::GET,
            &uri,
            ADMIN,
            None,
            Some("application/json"),
            b"",
        )
        .await;
        assert_eq!(
            json(std::str::from_utf8(&bytes).unwrap())["contents"],
            "# Hello\nworld"
        );

        // JSON in, JSON out; text when asked
        let (status, body) = send(
            &s,
            Method::PUT,
            &uri,
            ADMIN,
            Some("application/json"),
            br#"{"contents":"changed"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(json(&body)["contents"], "changed");
        let (_, _, bytes) = send_raw(
            &s,
            Method::PUT,
            &uri,
            ADMIN,
            Some("application/json"),
            Some("text/plain"),
            br#"{"contents":"again"}"#,
        )
        .await;
        assert_eq!(&bytes[..], b"again");
        let stored = s.store.get_project("p").await.unwrap().unwrap();
        let kept = if file == "readme.md" {
            stored.readme
        } else {
            stored.motd
        };
        assert_eq!(kept.as_deref(), Some("again"));

        // bad input
        for (ctype, bad) in [
            ("application/json", &br#"{"contents":1}"#[..]),
            ("application/json", b"{"),
            ("application/json", br#"{"other":"x"}"#),
            ("text/plain", b""),
            ("text/plain", b"\xff\xfe"),
        ] {
            let (status, body) = send(&s, Method::PUT, &uri, ADMIN, Some(ctype), bad).await;
            assert_error(
                status,
                &body,
                StatusCode::BAD_REQUEST,
                "api.error.invalid.request",
            );
        }
        let big = vec![b'x'; (1 << 20) + 1];
        let (status, body) = send(&s, Method::PUT, &uri, ADMIN, Some("text/plain"), &big).await;
        assert_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "api.error.invalid.request",
        );

        // denied: dev reads the project but may not configure it
        for (method, token) in [
            (Method::GET, DEV),
            (Method::PUT, DEV),
            (Method::DELETE, DEV),
            (Method::GET, NOBODY),
        ] {
            let (status, body) = send(&s, method, &uri, token, Some("text/plain"), b"mine").await;
            assert_error(
                status,
                &body,
                StatusCode::FORBIDDEN,
                "api.error.item.unauthorized",
            );
        }
        let (status, body) = get(&s, &format!("/api/59/project/nope/{file}"), ADMIN).await;
        assert_error(
            status,
            &body,
            StatusCode::NOT_FOUND,
            "api.error.item.doesnotexist",
        );

        // delete, twice
        for _ in 0..2 {
            let (status, _) = send(&s, Method::DELETE, &uri, ADMIN, None, b"").await;
            assert_eq!(status, StatusCode::NO_CONTENT);
        }
        let (status, _) = get(&s, &uri, ADMIN).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_node_source_and_its_nodes() {
    let s = state().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nodes.yaml");
    std::fs::write(
        &file,
        "web1: {hostname: web1.example}\ndb1: {hostname: db1.example}\n",
    )
    .unwrap();
    let mut p = s.store.get_project("p").await.unwrap().unwrap();
    p.config
        .insert("resources.source.1.type".into(), "file".into());
    p.config.insert(
        "resources.source.1.config.file".into(),
        file.to_string_lossy().into_owned(),
    );
    p.config
        .insert("resources.source.2.type".into(), "file".into());
    p.config.insert(
        "resources.source.2.config.file".into(),
        dir.path()
            .join("missing.yaml")
            .to_string_lossy()
            .into_owned(),
    );
    s.store.update_project(&p).await.unwrap();

    let (status, body) = get(&s, "/api/59/project/p/source/1", ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v["index"], 1, "{body}");
    assert_eq!(v["type"], "file", "{body}");
    assert_eq!(v["resources"]["writeable"], false, "{body}");
    assert!(
        v["resources"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/api/59/project/p/source/1/resources"),
        "{body}"
    );
    let (_, body) = get(&s, "/api/59/project/p/source/2", ADMIN).await;
    assert!(json(&body)["errors"].is_string(), "{body}");

    let (status, body) = get(&s, "/api/59/project/p/source/1/resources", ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v["web1"]["hostname"], "web1.example", "{body}");
    assert!(
        v.get("localhost").is_none(),
        "only the source's nodes: {body}"
    );
    let (_, headers, bytes) = send_raw(
        &s,
        Method::GET,
        "/api/59/project/p/source/1/resources?format=yaml",
        ADMIN,
        None,
        None,
        b"",
    )
    .await;
    assert!(headers["content-type"].to_str().unwrap().contains("yaml"));
    assert!(String::from_utf8_lossy(&bytes).contains("db1.example"));
    let (status, body) = get(&s, "/api/59/project/p/source/2/resources", ADMIN).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");

    for uri in [
        "/api/59/project/p/source/3",
        "/api/59/project/p/source/x/resources",
    ] {
        let (status, body) = get(&s, uri, ADMIN).await;
        assert_error(
            status,
            &body,
            StatusCode::NOT_FOUND,
            "api.error.item.doesnotexist",
        );
    }
    let (status, body) = get(
        &s,
        "/api/59/project/p/source/1/resources?format=bogus",
        ADMIN,
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "api.error.resource.format.unsupported",
    );
    // configure is needed; not even the file name leaks
    for token in [DEV, NOBODY] {
        for uri in [
            "/api/59/project/p/source/1",
            "/api/59/project/p/source/1/resources",
        ] {
            let (status, body) = get(&s, uri, token).await;
            assert_error(
                status,
                &body,
                StatusCode::FORBIDDEN,
                "api.error.item.unauthorized",
            );
            assert!(
                !body.contains("nodes.yaml") && !body.contains("web1"),
                "{body}"
            );
        }
    }
    // no writeable source: no POST
    let (status, _) = send(
        &s,
        Method::POST,
        "/api/59/project/p/source/1/resources",
        ADMIN,
        Some("application/json"),
        b"{}",
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}
