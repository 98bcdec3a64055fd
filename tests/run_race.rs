//! One run at a time, whoever starts it: a job with `multipleExecutions:
//! false` started at the same instant through the HTTP API and by its
//! schedule (a one-off trigger firing) runs exactly once; the loser is
//! refused with the API's conflict error, or recorded by the scheduler as a
//! skipped fire. Real parts: the HTTP server on a loopback port, the run
//! service, the durable scheduler, and the SQL store on SQLite and on
//! PostgreSQL (found at `FOREDECK_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432`; skipped when unreachable unless
//! `CI` is set).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use foredeck_core::engine::Engine;
use foredeck_core::model::{Execution, ExecutionStatus, Job, Project, Step, Workflow};
use foredeck_core::runs::RunService;
use foredeck_core::schedule::{Clock, DurableScheduler, ManualClock};
use foredeck_core::store::{ApiToken, ExecutionQuery, Store};
use foredeck_core::{RunRequest, Scheduler};
use foredeck_http::auth::hash_token;
use foredeck_http::{ApiState, RoleAuthorizer, ServeLimits};
use foredeck_store::SqlStore;
use futures::FutureExt;
use sea_orm::{ConnectionTrait, Database};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "race-admin-token";
const JOB: &str = "77777777-7777-4777-8777-777777777777";
const ROUNDS: u64 = 16;

async fn executions(store: &dyn Store, status: ExecutionStatus) -> Vec<Execution> {
    store
        .query_executions(&ExecutionQuery {
            job_ids: vec![JOB.into()],
            status: Some(status),
            max: 1000,
            ..ExecutionQuery::default()
        })
        .await
        .unwrap()
        .items
}

/// Races the API and the scheduler `ROUNDS` times on `store`.
async fn race(store: Arc<dyn Store>) {
    store.create_project(&Project::new("ops")).await.unwrap();
    store
        .create_token(&ApiToken {
            id: "t1".into(),
            token_hash: hash_token(TOKEN),
            user: "admin".into(),
            roles: vec!["admin".into()],
            name: None,
            creator: "test".into(),
            created: Utc::now(),
            expiration: None,
        })
        .await
        .unwrap();
    let mut job = Job::new("exclusive", Workflow::new(vec![Step::command("sleep 30")]));
    job.uuid = Some(JOB.into());
    job.multiple_executions = false;
    store.put_job("ops", &job).await.unwrap();

    let clock = Arc::new(ManualClock::new(Utc::now()));
    let engine = Engine::builder().shared_store(store.clone()).build();
    let runs = RunService::new(engine.clone(), |launcher| {
        DurableScheduler::builder(store.clone(), launcher)
            .clock(clock.clone())
            .build()
    });
    let scheduler = runs.scheduler.clone();
    // a server's first tick marks the runs it left unfinished incomplete:
    // done now, before any run of this process
    scheduler.recover().await.unwrap();
    let state = ApiState::new(store.clone(), Arc::new(RoleAuthorizer::new(["admin"])))
        .with_run_service(runs);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/api/59/job/{JOB}/run",
        listener.local_addr().unwrap()
    );
    let stop = CancellationToken::new();
    let server = tokio::spawn(foredeck_http::serve(
        listener,
        foredeck_http::router(state),
        ServeLimits::default(),
        stop.clone().cancelled_owned(),
    ));
    let http = reqwest::Client::new();

    let (mut api_won, mut schedule_won) = (0, 0);
    for round in 0..ROUNDS {
        scheduler
            .run_at(
                RunRequest {
                    project: "ops".into(),
                    job_id: JOB.into(),
                    options: Default::default(),
                    user: "admin".into(),
                    roles: Some(vec!["admin".into()]),
                    filter: None,
                },
                clock.now(),
            )
            .await
            .unwrap();
        // one side starts 0 to 14 ms after the other (about as long as
        // each takes to reach the store), so that each side wins some rounds
        let late = Duration::from_millis(round / 2 % 8 * 2);
        let (api_late, fire_late) = if round % 2 == 0 {
            (late, Duration::ZERO)
        } else {
            (Duration::ZERO, late)
        };
        let api = async {
            tokio::time::sleep(api_late).await;
            let r = http
                .post(&url)
                .header("X-Rundeck-Auth-Token", TOKEN)
                .header("Accept", "application/json")
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        };
        let fire = async {
            tokio::time::sleep(fire_late).await;
            scheduler.tick().await.unwrap()
        };
        let ((status, body), report) = tokio::join!(api, fire);
        assert_eq!(report.fired, 1, "round {round}: {report:?}");
        let running = executions(store.as_ref(), ExecutionStatus::Running).await;
        assert_eq!(running.len(), 1, "round {round}: {running:?} ({body})");
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        if status == 200 {
            api_won += 1;
            assert_eq!(answer["id"], running[0].id, "round {round}: {body}");
            // the fire found the API's run and skipped its own
            let skipped = executions(store.as_ref(), ExecutionStatus::Missed).await;
            assert_eq!(skipped.len(), api_won, "round {round}: {skipped:?}");
            let why = skipped[0].failure.clone().unwrap_or_default();
            assert!(
                why.contains(&format!("execution {}", running[0].id))
                    && why.contains("multipleExecutions: false"),
                "round {round}: {why}"
            );
        } else {
            schedule_won += 1;
            assert_eq!(status, 409, "round {round}: {body}");
            assert_eq!(
                answer["errorCode"], "api.error.execution.conflict",
                "{body}"
            );
            assert_eq!(
                answer["message"],
                format!("Job ID {JOB} is already running and does not allow multiple executions")
            );
        }
        // end the run (once the engine has it) before the next round
        let id = running[0].id;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !engine.abort(id) {
            assert!(
                std::time::Instant::now() < deadline,
                "run {id} never started"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        scheduler.wait_idle().await;
        while !executions(store.as_ref(), ExecutionStatus::Running)
            .await
            .is_empty()
        {
            assert!(std::time::Instant::now() < deadline, "run {id} never ended");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    eprintln!("{ROUNDS} rounds: the API won {api_won}, the schedule {schedule_won}");
    assert_eq!(api_won + schedule_won, ROUNDS as usize);
    stop.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn api_and_schedule_race_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_data_dir(dir.path()).await.unwrap();
    race(Arc::new(store.clone())).await;
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn api_and_schedule_race_on_postgres() {
    let base = std::env::var("FOREDECK_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let admin_url = format!("{base}/postgres");
    let mut opts = sea_orm::ConnectOptions::new(admin_url.clone());
    opts.acquire_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    let admin = match Database::connect(opts).await {
        Ok(a) => a,
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!("PostgreSQL at {admin_url} is unreachable and CI is set: {e}");
            }
            eprintln!("SKIPPED: PostgreSQL at {admin_url} is unreachable ({e}); set CI to make this a failure");
            return;
        }
    };
    let name = format!("fd_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let store = SqlStore::connect(&format!("{base}/{name}")).await.unwrap();
    let outcome = AssertUnwindSafe(race(Arc::new(store.clone())))
        .catch_unwind()
        .await;
    store.close().await.unwrap();
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .unwrap();
    admin.close().await.unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
