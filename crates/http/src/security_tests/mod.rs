//! Tests of the ACL policy, token, key storage, user and login routes,
//! against the `.aclpolicy` authorizer and real (encrypting) key storage on
//! the in-memory store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acl;
mod bad_input;
mod connections;
mod csrf_get;
mod login;
mod login_lockout;
mod names;
mod notify_address;
mod output_memory;
mod runs;
mod script_source;
mod script_tokens;
mod secure_options;
mod session_landing;
mod storage;
mod sweep;
pub(crate) mod sweep_routes;
mod token_flood;
mod tokens;
mod uuid_import;

use crate::auth::{hash_token, TOKEN_HEADER};
use crate::ApiState;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use foredeck_core::acl::AclAuthorizer;
use foredeck_core::store::prelude::*;
use foredeck_core::{ApiToken, AuditQuery, MemoryStore, Store, User};
use foredeck_store::{KeyStorage, MasterKey};
use serde_json::Value;
use std::sync::Arc;

pub(crate) const ADMIN: &str = "admin-secret-token-0123456789";
pub(crate) const NOBODY: &str = "nobody-secret-token-0123456789";
pub(crate) const OPS: &str = "ops-secret-token-0123456789";
pub(crate) const PASSWORD: &str = "correct horse battery staple";

pub(crate) struct Env {
    pub state: ApiState,
    pub store: Arc<MemoryStore>,
}

/// A password hash with small argon2 parameters, so that debug-build tests
/// stay fast (verification reads the parameters from the hash).
fn cheap_hash(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(8, 1, 1, None).unwrap();
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
    a.hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

pub(crate) async fn env() -> Env {
    let store = Arc::new(MemoryStore::new());
    let dyn_store: Arc<dyn Store> = store.clone();
    let now = chrono::Utc::now();
    for (id, secret, user, roles) in [
        ("t-admin", ADMIN, "root", vec!["admin"]),
        ("t-nobody", NOBODY, "nobody", vec!["dev"]),
        ("t-ops", OPS, "olga", vec!["ops"]),
    ] {
        store
            .create_token(&ApiToken {
                id: id.into(),
                token_hash: hash_token(secret),
                user: user.into(),
                roles: roles.into_iter().map(str::to_owned).collect(),
                name: None,
                creator: "test".into(),
                created: now,
                expiration: None,
            })
            .await
            .unwrap();
    }
    for (login, roles) in [("olga", vec!["ops"]), ("root", vec!["admin"])] {
        store
            .put_user(&User {
                login: login.into(),
                password_hash: Some(cheap_hash(PASSWORD)),
                roles: roles.into_iter().map(str::to_owned).collect(),
                email: Some(format!("{login}@example.com")),
                first_name: Some(login.to_uppercase()),
                last_name: None,
                created: now,
                modified: now,
            })
            .await
            .unwrap();
    }
    let acl = AclAuthorizer::load(dyn_store.clone()).await.unwrap();
    let keys = KeyStorage::new(dyn_store.clone(), &MasterKey::generate());
    let state = ApiState::new(dyn_store, acl).with_keys(Arc::new(keys));
    Env { state, store }
}

/// A request's answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub fn error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        let v = self.json();
        assert_eq!(v["error"], true, "{}", self.body);
        assert_eq!(v["errorCode"], code, "{}", self.body);
    }
}

/// A request builder over the router.
pub(crate) struct Call<'a> {
    env: &'a Env,
    req: axum::http::request::Builder,
    body: Body,
}

impl Env {
    /// Creates project `name` as the admin.
    pub async fn project(&self, name: &str) {
        let a = self
            .call(Method::POST, "/api/59/projects")
            .token(ADMIN)
            .json(&serde_json::json!({"name": name}).to_string())
            .send()
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    }

    /// Imports a job document (`ctype` YAML or JSON) into `project` as the
    /// admin; exactly one job must be stored.
    pub async fn import_one(&self, project: &str, ctype: &str, doc: String) {
        let uri = format!("/api/59/project/{project}/jobs/import");
        let a = self
            .call(Method::POST, &uri)
            .token(ADMIN)
            .body(ctype, doc)
            .send()
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(
            a.json()["succeeded"].as_array().map(Vec::len),
            Some(1),
            "{}",
            a.body
        );
    }

    /// Waits for an execution to end (a bound, not a timing assertion) and
    /// returns its status and log text.
    pub async fn finished(&self, id: u64) -> (foredeck_core::ExecutionStatus, String) {
        for _ in 0..1_000 {
            let e = self.store.get_execution(id).await.unwrap().unwrap();
            if e.status.is_final() {
                let log = self.store.read_log(id, 0, 10_000).await.unwrap();
                let text: Vec<String> = log.events.into_iter().map(|e| e.text).collect();
                return (e.status, text.join("\n"));
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("execution {id} did not end");
    }

    pub fn call(&self, method: Method, uri: &str) -> Call<'_> {
        Call {
            env: self,
            req: Request::builder().method(method).uri(uri),
            body: Body::empty(),
        }
    }

    pub async fn audit(&self, action: &str, resource_type: &str) -> Vec<foredeck_core::AuditEvent> {
        self.store
            .query_audit(&AuditQuery {
                action: Some(action.into()),
                resource_type: Some(resource_type.into()),
                max: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .items
    }
}

impl Call<'_> {
    pub fn token(mut self, t: &str) -> Self {
        self.req = self.req.header(TOKEN_HEADER, t);
        self
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.req = self.req.header(k, v);
        self
    }

    pub fn body(mut self, content_type: &str, body: impl Into<String>) -> Self {
        self.req = self.req.header("content-type", content_type);
        self.body = Body::from(body.into());
        self
    }

    pub fn json(self, body: &str) -> Self {
        self.body("application/json", body)
    }

    pub async fn send(self) -> Answer {
        let (status, headers, bytes) = self.send_raw().await;
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// The answer with its body as sent (compressed, binary).
    pub async fn send_raw(self) -> (StatusCode, axum::http::HeaderMap, axum::body::Bytes) {
        crate::tests::answer(&self.env.state, self.req.body(self.body).unwrap()).await
    }
}

/// A policy giving the `ops` group some application-level access.
pub(crate) async fn grant(env: &Env, name: &str, yaml: &str) {
    let a = env
        .call(Method::POST, &format!("/api/59/system/acl/{name}"))
        .token(ADMIN)
        .body("application/yaml", yaml)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
}
