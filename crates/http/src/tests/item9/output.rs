//! `execution/{id}/output/state` and `execution/{id}/input/files`.

use super::*;

fn kinds(v: &Value) -> Vec<String> {
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let t = e["type"].as_str().unwrap();
            match t {
                "log" => format!("log {}", e["log"].as_str().unwrap()),
                _ => format!(
                    "{t} {} {}",
                    e["stepctx"].as_str().unwrap(),
                    e["node"].as_str().unwrap()
                ),
            }
        })
        .collect()
}

#[tokio::test]
async fn output_with_state_interleaves_state_changes_and_pages() {
    let s = loaded().await;
    let e = run_job(&s, PLAIN).await;
    let uri = format!("/api/59/execution/{}/output/state", e.id);
    let (status, body) = get(&s, &uri, DEV).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v["execCompleted"], true, "{body}");
    assert_eq!(v["completed"], true, "{body}");
    let all = kinds(&v);
    let pos = |want: &str| {
        all.iter()
            .position(|k| k == want)
            .unwrap_or_else(|| panic!("{want} in {all:?}"))
    };
    // each step begins before its lines and ends after them
    assert!(
        pos("stepbegin 1 ") < pos("nodebegin 1 localhost"),
        "{all:?}"
    );
    assert!(
        pos("nodebegin 1 localhost") <= pos("log line-one"),
        "{all:?}"
    );
    assert!(pos("log line-two") <= pos("nodeend 1 localhost"), "{all:?}");
    assert!(pos("nodeend 1 localhost") < pos("stepend 1 "), "{all:?}");
    // (node-first: a step ends when every node ran it, here after step 2)
    assert!(
        pos("nodeend 1 localhost") < pos("nodebegin 2 localhost"),
        "{all:?}"
    );
    assert!(pos("stepbegin 2 ") < pos("log step-two"), "{all:?}");
    assert!(pos("log step-two") < pos("stepend 2 "), "{all:?}");

    // state only: no lines, the same changes
    let (_, body) = get(&s, &format!("{uri}?stateOnly=true"), DEV).await;
    let only = kinds(&json(&body));
    assert!(only.iter().all(|k| !k.starts_with("log ")), "{only:?}");
    let changes: Vec<&String> = all.iter().filter(|k| !k.starts_with("log ")).collect();
    assert_eq!(only.iter().collect::<Vec<_>>(), changes);

    // pages of one line each carry every line and every change once
    let mut paged = Vec::new();
    let mut offset = 0;
    for _ in 0..100 {
        let (_, body) = get(&s, &format!("{uri}?offset={offset}&maxlines=1"), DEV).await;
        let v = json(&body);
        paged.extend(kinds(&v));
        offset = v["offset"].as_str().unwrap().parse().unwrap();
        if v["completed"] == true {
            break;
        }
    }
    assert_eq!(paged, all);

    // denied and bad input
    let secret = run_job(&s, SECRET).await;
    for (id, token) in [(secret.id, DEV), (e.id, NOBODY)] {
        let (status, body) = get(&s, &format!("/api/59/execution/{id}/output/state"), token).await;
        assert_error(
            status,
            &body,
            StatusCode::NOT_FOUND,
            "api.error.item.doesnotexist",
        );
        no_leak(&body);
    }
    let (status, body) = get(&s, "/api/59/execution/999999/output/state", ADMIN).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );
    for bad in ["stateOnly=maybe", "offset=-1", "maxlines=x"] {
        let (status, body) = get(&s, &format!("{uri}?{bad}"), ADMIN).await;
        assert_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "api.error.invalid.request",
        );
    }
}

#[tokio::test]
async fn input_files_are_an_empty_list_for_who_may_read_the_execution() {
    let s = loaded().await;
    let e = run_job(&s, PLAIN).await;
    let uri = format!("/api/59/execution/{}/input/files", e.id);
    for token in [ADMIN, DEV] {
        let (status, body) = get(&s, &uri, token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // no file options in Foredeck, so no uploaded files; no paging,
        // as Rundeck leaves it out
        assert_eq!(json(&body), serde_json::json!({"files": []}));
    }
    let secret = run_job(&s, SECRET).await;
    for (id, token) in [(secret.id, DEV), (e.id, NOBODY), (999_999, ADMIN)] {
        let (status, body) = get(&s, &format!("/api/59/execution/{id}/input/files"), token).await;
        assert_error(
            status,
            &body,
            StatusCode::NOT_FOUND,
            "api.error.item.doesnotexist",
        );
        no_leak(&body);
    }
    let (status, body) = get(
        &s,
        &format!("/api/18/execution/{}/input/files", e.id),
        ADMIN,
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "api.error.api-version.unsupported",
    );
}
