//! Finding 13: a job import whose uuid is taken by a job the caller cannot
//! see (in another project, or hidden in this one) is refused with one
//! answer that names neither that job nor its project.

use super::*;
use foredeck_store::SqlStore;

const SECRET_UUID: &str = "5ec7e700-0000-4000-8000-000000000001";
const HIDDEN_UUID: &str = "41dde400-0000-4000-8000-000000000002";
const FREE_UUID: &str = "f7ee0000-0000-4000-8000-000000000003";

/// ops reads `dev` and may create, read and update its `pub` jobs; nothing
/// in `secret-finance`.
const OPS_IN_DEV: &str = "description: ops reads dev\ncontext:\n  application: rundeck\nfor:\n  project:\n    - equals: {name: dev}\n      allow: [read, import]\nby:\n  group: ops\n---\ndescription: ops works on dev's public jobs\ncontext:\n  project: dev\nfor:\n  job:\n    - equals: {group: pub}\n      allow: [read, create, update]\nby:\n  group: ops\n";

fn job_yaml(name: &str, group: &str, uuid: &str) -> String {
    format!(
        "- name: {name}\n  group: {group}\n  uuid: {uuid}\n  sequence:\n    commands:\n      - exec: echo {name}\n"
    )
}

/// Sends one import to `state` as `token`; the answer's JSON.
async fn import(state: &ApiState, token: &str, project: &str, query: &str, body: String) -> Value {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/59/project/{project}/jobs/import{query}"))
        .header(TOKEN_HEADER, token)
        .header("content-type", "application/yaml")
        .body(Body::from(body))
        .unwrap();
    let (status, _, bytes) = crate::tests::answer(state, req).await;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn post(state: &ApiState, token: &str, uri: &str, ctype: &str, body: &str) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(TOKEN_HEADER, token)
        .header("content-type", ctype)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let (status, _, bytes) = crate::tests::answer(state, req).await;
    assert!(
        status.is_success(),
        "{uri}: {status} {}",
        String::from_utf8_lossy(&bytes)
    );
}

/// Projects `dev` and `secret-finance`, the secret job, a hidden job in
/// `dev`, and the ops policy.
async fn seed(state: &ApiState) {
    for p in ["dev", "secret-finance"] {
        post(
            state,
            ADMIN,
            "/api/59/projects",
            "application/json",
            &format!(r#"{{"name":"{p}"}}"#),
        )
        .await;
    }
    let a = import(
        state,
        ADMIN,
        "secret-finance",
        "",
        job_yaml("payroll-run", "finance", SECRET_UUID),
    )
    .await;
    assert_eq!(a["succeeded"].as_array().unwrap().len(), 1, "{a}");
    let a = import(
        state,
        ADMIN,
        "dev",
        "",
        job_yaml("hidden-job", "admins", HIDDEN_UUID),
    )
    .await;
    assert_eq!(a["succeeded"].as_array().unwrap().len(), 1, "{a}");
    post(
        state,
        ADMIN,
        "/api/59/system/acl/ops.aclpolicy",
        "application/yaml",
        OPS_IN_DEV,
    )
    .await;
}

/// The one failure of an import answer.
fn failure(a: &Value) -> String {
    assert_eq!(a["succeeded"].as_array().unwrap().len(), 0, "{a}");
    assert_eq!(a["skipped"].as_array().unwrap().len(), 0, "{a}");
    let failed = a["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{a}");
    failed[0]["error"].as_str().unwrap().to_owned()
}

/// What every store must answer: the other project's uuid and a hidden
/// job's uuid are refused with the same words, naming neither, whatever
/// the dupe option; the secret job is untouched; `uuidOption=remove` still
/// imports the job under a new uuid.
async fn refused_alike(state: &ApiState, store: &dyn Store) {
    seed(state).await;
    for query in ["", "?dupeOption=update", "?dupeOption=skip"] {
        let secret = failure(
            &import(
                state,
                OPS,
                "dev",
                query,
                job_yaml("mine", "pub", SECRET_UUID),
            )
            .await,
        );
        let hidden = failure(
            &import(
                state,
                OPS,
                "dev",
                query,
                job_yaml("mine", "pub", HIDDEN_UUID),
            )
            .await,
        );
        for leak in [
            "secret-finance",
            "payroll",
            "finance",
            "hidden-job",
            "admins",
        ] {
            assert!(!secret.contains(leak), "{query}: {secret:?} names {leak}");
            assert!(!hidden.contains(leak), "{query}: {hidden:?} names {leak}");
        }
        assert_eq!(
            secret.replace(SECRET_UUID, "U"),
            hidden.replace(HIDDEN_UUID, "U"),
            "{query}: the two refusals differ"
        );
        assert!(secret.contains(SECRET_UUID), "{secret}");
        assert!(secret.contains("uuidOption=remove"), "{secret}");
    }
    assert_eq!(store.get_job("dev", SECRET_UUID).await.unwrap(), None);
    let kept = store
        .get_job("secret-finance", SECRET_UUID)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.name, "payroll-run");
    let hidden = store.get_job("dev", HIDDEN_UUID).await.unwrap().unwrap();
    assert_eq!(hidden.name, "hidden-job");

    // a free uuid is imported as sent; a taken one under a new uuid
    let a = import(state, OPS, "dev", "", job_yaml("free", "pub", FREE_UUID)).await;
    assert_eq!(a["succeeded"][0]["id"], FREE_UUID, "{a}");
    let a = import(
        state,
        OPS,
        "dev",
        "?uuidOption=remove",
        job_yaml("mine", "pub", SECRET_UUID),
    )
    .await;
    let id = a["succeeded"][0]["id"].as_str().unwrap();
    assert_ne!(id, SECRET_UUID, "{a}");
    assert!(store.uuid_taken(SECRET_UUID).await.unwrap());
    assert!(store.uuid_taken(id).await.unwrap());
    assert!(!store.uuid_taken("no-such-uuid").await.unwrap());
}

#[tokio::test]
async fn another_projects_uuid_is_refused_without_naming_it_memory_store() {
    let env = env().await;
    refused_alike(&env.state, env.store.as_ref()).await;
}

#[tokio::test]
async fn another_projects_uuid_is_refused_without_naming_it_sql_store() {
    let store: Arc<dyn Store> = Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap());
    for (id, secret, user, role) in [
        ("t-admin", ADMIN, "root", "admin"),
        ("t-ops", OPS, "olga", "ops"),
    ] {
        store
            .create_token(&ApiToken {
                id: id.into(),
                token_hash: hash_token(secret),
                user: user.into(),
                roles: vec![role.into()],
                name: None,
                creator: "test".into(),
                created: chrono::Utc::now(),
                expiration: None,
            })
            .await
            .unwrap();
    }
    let acl = AclAuthorizer::load(store.clone()).await.unwrap();
    let keys = KeyStorage::new(store.clone(), &MasterKey::generate());
    let state = ApiState::new(store.clone(), acl).with_keys(Arc::new(keys));
    refused_alike(&state, store.as_ref()).await;
}
