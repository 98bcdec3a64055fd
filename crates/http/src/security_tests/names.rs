//! Length limits of names (issue 17, finding 12): projects, jobs, groups,
//! options and key paths over their limit get a 400 naming the field, its
//! length and the limit; names at the limit are accepted.

use super::*;

async fn new_project(env: &Env, name: &str) -> Answer {
    env.call(Method::POST, "/api/59/projects")
        .token(ADMIN)
        .json(&serde_json::json!({ "name": name }).to_string())
        .send()
        .await
}

async fn import(env: &Env, name: &str, group: &str, option: &str) -> Answer {
    let job = serde_json::json!([{
        "name": name,
        "group": group,
        "options": [{"name": option}],
        "sequence": {"commands": [{"exec": "true"}]},
    }]);
    env.call(Method::POST, "/api/59/project/p/jobs/import?format=json")
        .token(ADMIN)
        .json(&job.to_string())
        .send()
        .await
}

fn refused(a: &Answer, says: &str) {
    assert_eq!(
        a.status,
        StatusCode::BAD_REQUEST,
        "{}",
        &a.body[..a.body.len().min(500)]
    );
    let message = a.json()["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains(says), "{says:?} not in {message:?}");
    assert!(message.len() < 2_000, "the message does not echo the name");
}

/// The job is the import's one failure; the answer does not echo the
/// over-long name or group whole.
fn failed_alone(a: &Answer, says: &str) {
    assert_eq!(
        a.status,
        StatusCode::OK,
        "{}",
        &a.body[..a.body.len().min(500)]
    );
    let v = a.json();
    let error = v["failed"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains(says), "{says:?} not in {error:?}");
    assert!(a.body.len() < 2_000, "the answer does not echo the name");
}

#[tokio::test]
async fn a_project_name_over_255_characters_is_refused() {
    let env = env().await;
    refused(
        &new_project(&env, &"p".repeat(100_000)).await,
        "project name is 100000 characters long; at most 255 are allowed",
    );
    refused(
        &new_project(&env, &"p".repeat(256)).await,
        "project name is 256 characters long; at most 255",
    );
    assert_eq!(
        new_project(&env, &"p".repeat(255)).await.status,
        StatusCode::CREATED
    );
    assert!(env.store.list_projects().await.unwrap().len() == 1);
}

#[tokio::test]
async fn job_group_and_option_names_over_their_limits_are_refused() {
    let env = env().await;
    assert_eq!(new_project(&env, "p").await.status, StatusCode::CREATED);
    // an import answers such a job in `failed[]`, as Rundeck does
    failed_alone(
        &import(&env, &"j".repeat(1025), "g", "o").await,
        "field `name`: job name is 1025 characters long; at most 1024 are allowed",
    );
    let deep = format!("g{}", "/g".repeat(1024));
    failed_alone(
        &import(&env, "j", &deep, "o").await,
        "field `group`: job group is 2049 characters long; at most 2048 are allowed",
    );
    failed_alone(
        &import(&env, "j", "g", &"o".repeat(256)).await,
        "field `options[0].name`: option name is 256 characters long; at most 255 are allowed",
    );
    assert!(env
        .store
        .list_jobs("p", &Default::default())
        .await
        .unwrap()
        .is_empty());
    let at_limit = import(
        &env,
        &"j".repeat(1024),
        &format!("g{}", "/g".repeat(1023)),
        &"o".repeat(255),
    )
    .await;
    assert_eq!(
        at_limit.json()["succeeded"].as_array().map(Vec::len),
        Some(1),
        "{}",
        at_limit.body
    );
}

#[tokio::test]
async fn a_key_path_over_1024_characters_is_refused() {
    let env = env().await;
    let long = format!("ops/{}", "k".repeat(1100));
    let a = env
        .call(Method::POST, &format!("/api/59/storage/keys/{long}"))
        .token(ADMIN)
        .body("application/x-rundeck-data-password", "secret")
        .send()
        .await;
    refused(
        &a,
        "key path is 1109 characters long; at most 1024 are allowed",
    );
}
