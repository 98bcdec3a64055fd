//! Secure options (issue 17, finding 11): a secure option's default value
//! is never shown by job GET or export, and a secure value is masked in the
//! log in its common encodings too (base64, hex), not only as it is.

use super::*;

const JOB: &str = "5ec0e000-0000-4000-8000-000000000011";
const SECRET: &str = "s3cr3t-default-value";

async fn seeded(env: &Env) {
    env.project("p").await;
    let doc = format!(
        "- name: j\n  uuid: {JOB}\n  options:\n    - {{name: pw, secure: true, valueExposed: true, value: {SECRET}}}\n    - {{name: plain, value: visible-default}}\n  sequence:\n    commands:\n      - exec: 'echo plain; printf %s ${{option.pw}} | base64; printf %s ${{option.pw}} | od -An -tx1 | tr -d \" \\n\"; echo'\n"
    );
    env.import_one("p", "application/yaml", doc).await;
}

#[tokio::test]
async fn a_secure_default_is_never_shown_by_job_get_or_export() {
    let env = env().await;
    seeded(&env).await;
    for uri in [
        format!("/api/59/job/{JOB}"),
        format!("/api/59/job/{JOB}?format=yaml"),
        "/api/59/project/p/jobs/export".to_owned(),
        "/api/59/project/p/jobs/export?format=yaml".to_owned(),
    ] {
        let a = env.call(Method::GET, &uri).token(ADMIN).send().await;
        assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.body);
        assert!(
            !a.body.contains(SECRET),
            "{uri} shows the secure default: {}",
            a.body
        );
        assert!(a.body.contains("visible-default"), "{uri}: {}", a.body);
        assert!(a.body.contains("secure"), "{uri}: {}", a.body);
    }
}

#[tokio::test]
async fn a_secure_value_is_masked_in_base64_and_hex_too() {
    let env = env().await;
    seeded(&env).await;
    let a = env
        .call(Method::POST, &format!("/api/59/job/{JOB}/run"))
        .token(ADMIN)
        .json(r#"{"options":{"pw":"given-s3cr3t-value"}}"#)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let id = a.json()["id"].as_u64().unwrap();
    for _ in 0..1_000 {
        if env
            .store
            .get_execution(id)
            .await
            .unwrap()
            .unwrap()
            .status
            .is_final()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let a = env
        .call(
            Method::GET,
            &format!("/api/59/execution/{id}/output?format=text"),
        )
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("plain"), "the step ran: {}", a.body);
    // printf %s given-s3cr3t-value | base64, and | od -An -tx1
    assert!(!a.body.contains("Z2l2ZW4tczNjcjN0LXZhbHVl"), "{}", a.body);
    assert!(
        !a.body.contains("676976656e2d7333637233742d76616c7565"),
        "{}",
        a.body
    );
    assert_eq!(a.body.matches("[SECURE]").count(), 2, "{}", a.body);
}

/// Runs the job without options and returns its log as text.
async fn run_without_options(env: &Env) -> String {
    let a = env
        .call(Method::POST, &format!("/api/59/job/{JOB}/run"))
        .token(ADMIN)
        .json("{}")
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let id = a.json()["id"].as_u64().unwrap();
    let (status, _) = env.finished(id).await;
    let a = env
        .call(
            Method::GET,
            &format!("/api/59/execution/{id}/output?format=text"),
        )
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(
        status,
        foredeck_core::ExecutionStatus::Succeeded,
        "{}",
        a.body
    );
    a.body
}

#[tokio::test]
async fn a_secure_default_is_kept_in_key_storage_not_in_the_job_record() {
    let env = env().await;
    seeded(&env).await;
    let keys = env.state.keys.clone().unwrap();
    // the record holds a key-storage path, not the value
    let job = env.store.get_job("p", JOB).await.unwrap().unwrap();
    let pw = job.option("pw").unwrap();
    assert_eq!(pw.default, None, "the secure default is in the job record");
    let path = pw.storage_path.clone().expect("a storagePath");
    assert!(path.starts_with("keys/foredeck/job-options/"), "{path}");
    assert!(!format!("{job:?}").contains(SECRET));
    let info = keys.info(&path).await.unwrap().expect("the key");
    assert_eq!(info.key_type, foredeck_core::KeyType::Password);
    // the other option's default stays where it was
    assert_eq!(
        job.option("plain").unwrap().default.as_deref(),
        Some("visible-default")
    );
    // a run without a value gets the default (its base64 and hex forms
    // are masked: they are those of the secret, not of an empty value)
    let out = run_without_options(&env).await;
    assert_eq!(out.matches("[SECURE]").count(), 2, "{out}");
    assert!(!out.contains(SECRET), "{out}");

    // export, then import the export back over the job: the default is
    // still the stored one
    let a = env
        .call(Method::GET, "/api/59/project/p/jobs/export?format=yaml")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains(&path), "{}", a.body);
    assert!(!a.body.contains(SECRET), "{}", a.body);
    let a = env
        .call(
            Method::POST,
            "/api/59/project/p/jobs/import?dupeOption=update",
        )
        .token(ADMIN)
        .body("application/yaml", a.body)
        .send()
        .await;
    assert_eq!(
        a.json()["succeeded"].as_array().map(Vec::len),
        Some(1),
        "{}",
        a.body
    );
    let out = run_without_options(&env).await;
    assert_eq!(out.matches("[SECURE]").count(), 2, "{out}");

    // deleting the job deletes its kept default
    let a = env
        .call(Method::DELETE, &format!("/api/59/job/{JOB}"))
        .token(ADMIN)
        .send()
        .await;
    assert!(a.status.is_success(), "{}", a.body);
    assert_eq!(keys.info(&path).await.unwrap(), None);
}

#[tokio::test]
async fn a_default_in_the_record_from_before_moves_to_key_storage() {
    let env = env().await;
    seeded(&env).await;
    // a record as an older version stored it
    let mut job = env.store.get_job("p", JOB).await.unwrap().unwrap();
    let pw = job.options.iter_mut().find(|o| o.name == "pw").unwrap();
    pw.storage_path = None;
    pw.default = Some("older-clear-default".into());
    env.store.put_job("p", &job).await.unwrap();
    let keys = env.state.keys.clone().unwrap();
    let n = foredeck_core::vault::seal_stored_defaults(env.store.as_ref(), keys.as_ref())
        .await
        .unwrap();
    assert_eq!(n, 1);
    let job = env.store.get_job("p", JOB).await.unwrap().unwrap();
    assert_eq!(job.option("pw").unwrap().default, None);
    assert!(job.option("pw").unwrap().storage_path.is_some());
    // the complete pass is recorded, so later starts read no job
    let marker = env
        .store
        .get_server_setting(
            foredeck_core::vault::STORE_WIDE,
            foredeck_core::vault::SEALED_MARKER,
        )
        .await
        .unwrap();
    assert_eq!(marker.as_deref(), Some("1"));
    // nothing left to move the second time
    let n = foredeck_core::vault::seal_stored_defaults(env.store.as_ref(), keys.as_ref())
        .await
        .unwrap();
    assert_eq!(n, 0);
}
