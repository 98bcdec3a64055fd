//! Secure options (issue 17, finding 11): a secure option's default value
//! is never shown by job GET or export, and a secure value is masked in the
//! log in its common encodings too (base64, hex), not only as it is.

use super::*;

const JOB: &str = "5ec0e000-0000-4000-8000-000000000011";
const SECRET: &str = "s3cr3t-default-value";

async fn seeded(env: &Env) {
    let a = env
        .call(Method::POST, "/api/59/projects")
        .token(ADMIN)
        .json(r#"{"name":"p"}"#)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let doc = format!(
        "- name: j\n  uuid: {JOB}\n  options:\n    - {{name: pw, secure: true, valueExposed: true, value: {SECRET}}}\n    - {{name: plain, value: visible-default}}\n  sequence:\n    commands:\n      - exec: 'echo plain; printf %s ${{option.pw}} | base64; printf %s ${{option.pw}} | od -An -tx1 | tr -d \" \\n\"; echo'\n"
    );
    let a = env
        .call(Method::POST, "/api/59/project/p/jobs/import")
        .token(ADMIN)
        .body("application/yaml", doc)
        .send()
        .await;
    assert_eq!(
        a.json()["succeeded"].as_array().map(Vec::len),
        Some(1),
        "{}",
        a.body
    );
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
