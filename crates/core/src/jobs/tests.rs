#![allow(clippy::unwrap_used)]

use super::*;
use crate::authorizer::{AuthContext, Authorizer, Decision, Resource, Subject};
use crate::error::ErrorCode;
use crate::error::Result;
use crate::format::parse_jobs_yaml;
use crate::model::{Job, Project};
use crate::runs::RunService;
use crate::scheduler::Scheduler;
use crate::store::prelude::*;
use crate::store::JobQuery;
use crate::testing::StaticAuthorizer;
use crate::vault::{KeyInfo, KeyVault};
use crate::KeyType;
use crate::MemoryStore;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Key storage in memory, for the secure option defaults.
#[derive(Debug, Default)]
struct Vault(Mutex<BTreeMap<String, Vec<u8>>>);

#[async_trait]
impl KeyVault for Vault {
    async fn put(&self, path: &str, key_type: KeyType, data: &[u8]) -> Result<KeyInfo> {
        self.0.lock().unwrap().insert(path.into(), data.to_vec());
        Ok(KeyInfo {
            path: path.into(),
            key_type,
            size: data.len() as u64,
            created: chrono::Utc::now(),
            modified: chrono::Utc::now(),
        })
    }
    async fn list(&self, prefix: &str) -> Result<Vec<KeyInfo>> {
        let keys = self.0.lock().unwrap().clone();
        Ok(keys
            .into_iter()
            .filter(|(p, _)| p.starts_with(prefix))
            .map(|(path, data)| KeyInfo {
                path,
                key_type: KeyType::Password,
                size: data.len() as u64,
                created: chrono::Utc::now(),
                modified: chrono::Utc::now(),
            })
            .collect())
    }
    async fn info(&self, _path: &str) -> Result<Option<KeyInfo>> {
        Ok(None)
    }
    async fn public(&self, path: &str) -> Result<Vec<u8>> {
        Err(crate::Error::Forbidden(path.into()))
    }
    async fn delete(&self, path: &str) -> Result<()> {
        self.0.lock().unwrap().remove(path);
        Ok(())
    }
}

/// Hides the jobs named `hidden*` (no `read`, no `view`).
#[derive(Debug)]
struct HidesSome;

impl Authorizer for HidesSome {
    fn decide(&self, _s: &Subject, action: &str, r: &Resource, _c: &AuthContext) -> Decision {
        let name = r.attributes.get("name").cloned().unwrap_or_default();
        if r.kind == "job" && name.starts_with("hidden") && matches!(action, "read" | "view") {
            Decision::Deny("hidden".into())
        } else {
            Decision::Allow
        }
    }
}

struct Fixture {
    store: Arc<MemoryStore>,
    runs: RunService,
    vault: Arc<Vault>,
    jobs: JobService,
}

async fn fixture(authorizer: Option<Arc<dyn Authorizer>>) -> Fixture {
    let store = Arc::new(MemoryStore::new());
    for p in ["p", "other"] {
        store.create_project(&Project::new(p)).await.unwrap();
    }
    let runs = RunService::local(store.clone());
    if let Some(a) = authorizer {
        runs.engine.set_authorizer(a);
    }
    let vault = Arc::new(Vault::default());
    let jobs = JobService::new(runs.clone()).with_vault(vault.clone());
    Fixture {
        store,
        runs,
        vault,
        jobs,
    }
}

fn job(yaml: &str) -> Job {
    parse_jobs_yaml(yaml, "test").unwrap().remove(0)
}

fn alice() -> Subject {
    Subject::new("alice", ["dev"])
}

const SCHEDULED: &str = "- name: nightly\n  uuid: u-1\n  schedule: {crontab: \"0 0 2 * * ?\"}\n  sequence: {commands: [{exec: 'true'}]}\n  options:\n    - {name: pw, secure: true, value: s3cret}\n";

#[tokio::test]
async fn a_saved_job_is_scheduled_as_its_saver_and_deleted_with_everything_it_kept() {
    let f = fixture(None).await;
    let saved = f
        .jobs
        .save(&alice(), "p", job(SCHEDULED), OnDuplicate::Create)
        .await
        .unwrap();
    let Saved::Created(stored) = saved else {
        panic!("{saved:?}")
    };
    // the secure default went to key storage, not into the record
    assert_eq!(stored.options[0].default, None);
    assert_eq!(f.vault.0.lock().unwrap().len(), 1);
    let next = f.runs.scheduler.next_fire_time("p", "u-1").await.unwrap();
    assert!(next.is_some());
    let trigger = f.store.get_trigger("job:u-1").await.unwrap().unwrap();
    assert_eq!(trigger.spec["user"], "alice");

    // the same again: skipped, updated, or refused as a new job
    let again = job(SCHEDULED);
    let skipped = f
        .jobs
        .save(&alice(), "p", again.clone(), OnDuplicate::Skip)
        .await
        .unwrap();
    assert!(matches!(skipped, Saved::Skipped(j) if j.uuid.as_deref() == Some("u-1")));
    let refused = f
        .jobs
        .save(&alice(), "p", again.clone(), OnDuplicate::Create)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, SaveError::UuidExists(ref u) if u == "u-1"),
        "{refused}"
    );
    let mut renamed = again;
    renamed.uuid = None;
    renamed.description = "by name".into();
    let updated = f
        .jobs
        .save(&alice(), "p", renamed, OnDuplicate::Update)
        .await
        .unwrap();
    assert!(matches!(updated, Saved::Updated(ref j) if j.uuid.as_deref() == Some("u-1")));

    f.jobs.delete(&alice(), "p", &stored).await.unwrap();
    assert!(f.store.get_job("p", "u-1").await.unwrap().is_none());
    assert!(f.store.get_trigger("job:u-1").await.unwrap().is_none());
    assert!(f.vault.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn toggles_reschedule_the_job_and_the_forecast_follows_its_schedule() {
    let f = fixture(None).await;
    let Saved::Created(stored) = f
        .jobs
        .save(&alice(), "p", job(SCHEDULED), OnDuplicate::Create)
        .await
        .unwrap()
    else {
        panic!("not created")
    };
    let off = f
        .jobs
        .set_enabled(&alice(), "p", stored, Toggle::Schedule, false)
        .await
        .unwrap();
    assert!(!off.schedule_enabled);
    assert_eq!(
        f.runs.scheduler.next_fire_time("p", "u-1").await.unwrap(),
        None
    );
    f.jobs
        .set_enabled(&alice(), "p", off, Toggle::Schedule, true)
        .await
        .unwrap();
    let next = f.runs.scheduler.next_fire_time("p", "u-1").await.unwrap();
    assert!(next.is_some());
    // a daily job: its next fire first, then a day apart (give or take a
    // DST hour), within the period and the count asked
    let until = chrono::Utc::now() + chrono::Duration::days(3);
    let times = f.jobs.forecast("p", "u-1", until, 100).await.unwrap();
    assert_eq!(times.first().copied(), next);
    assert!((2..=4).contains(&times.len()), "{times:?}");
    assert!(times
        .windows(2)
        .all(|w| w[1] - w[0] >= chrono::Duration::hours(23)));
    assert_eq!(
        f.jobs.forecast("p", "u-1", until, 1).await.unwrap().len(),
        1
    );
    assert!(f
        .jobs
        .forecast("p", "u-2", until, 100)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn callers_change_only_what_they_may_and_hidden_uuids_are_not_named() {
    let f = fixture(Some(Arc::new(
        StaticAuthorizer::allow_all()
            .with_action("create", false)
            .with_action("delete", false),
    )))
    .await;
    let e = f
        .jobs
        .save(&alice(), "p", job(SCHEDULED), OnDuplicate::Create)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Not authorized for action \"create\" for Job nightly"
    );
    assert!(f.store.get_job("p", "u-1").await.unwrap().is_none());
    let e = f
        .jobs
        .delete(&alice(), "p", &job(SCHEDULED))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::Forbidden);

    // a uuid held by a hidden job of another project: refused, named by
    // neither its job nor its project
    let f = fixture(Some(Arc::new(HidesSome))).await;
    let mut hidden = job(SCHEDULED);
    hidden.name = "hidden-one".into();
    f.store.put_job("other", &hidden).await.unwrap();
    let e = f
        .jobs
        .save(&alice(), "p", job(SCHEDULED), OnDuplicate::Update)
        .await
        .unwrap_err();
    assert!(
        matches!(e, SaveError::UuidInUse(ref u) if u == "u-1"),
        "{e}"
    );
    assert!(!e.to_string().contains("hidden") && !e.to_string().contains("other"));
    assert_eq!(
        f.store
            .list_jobs("p", &JobQuery::default())
            .await
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn a_job_whose_schedule_cannot_be_kept_is_not_stored() {
    let f = fixture(None).await;
    let mut bad = job(SCHEDULED);
    bad.time_zone = Some("Mars/Olympus".into());
    let e = f
        .jobs
        .save(&alice(), "p", bad, OnDuplicate::Create)
        .await
        .unwrap_err();
    assert!(matches!(e, SaveError::Invalid(_)), "{e}");
    let hooked = job(
        "- name: hooked\n  sequence: {commands: [{exec: 'true'}]}\n  notification:\n    onfailure: {urls: 'http://169.254.169.254/x'}\n",
    );
    let e = f
        .jobs
        .save(&alice(), "p", hooked, OnDuplicate::Create)
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("notification.onfailure"), "{e}");
    assert!(f
        .store
        .list_jobs("p", &JobQuery::default())
        .await
        .unwrap()
        .is_empty());
    assert!(f.store.list_triggers(Some("p")).await.unwrap().is_empty());
}
