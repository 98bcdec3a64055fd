//! A durable run is stopped between two steps by killing its process
//! (SIGKILL), and a second process with the same server uuid continues it
//! from the next step with the data captured before the kill.
//!
//! The job (`durable: true`, sequential): step 1 notes that it ran and
//! captures `token=abc`; step 2, while no marker file exists, writes its
//! pid and sleeps (the first process is killed there), and once the marker
//! exists, writes `got ${data.token}`; step 3 writes `done`. The processes
//! are this same test binary, started again with `FOREDECK_DURABLE_CHILD`
//! set to the database URL and `FOREDECK_DURABLE_ROLE` to `first` (starts
//! the run through the run service, then waits forever) or `second`
//! (recovers and ticks the scheduler, waits for the runs it started).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(unused_macros)]
mod common;

use foredeck_core::model::{ExecutionStatus, Job, Project, Step, Strategy, Workflow};
use foredeck_core::schedule::DurableScheduler;
use foredeck_core::store::Store;
use foredeck_core::{Engine, RunService, SchedulerConfig, StartRun, Started, Subject};
use foredeck_store::SqlStore;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHILD: &str = "FOREDECK_DURABLE_CHILD";
const ROLE: &str = "FOREDECK_DURABLE_ROLE";
const SERVER: &str = "server-durable";
const JOB: &str = "durable-job";

fn say(line: String) {
    let mut out = std::io::stdout();
    writeln!(out, "DURABLE {line}").unwrap();
    out.flush().unwrap();
}

fn service(store: Arc<dyn Store>) -> RunService {
    let engine = Engine::builder().shared_store(store.clone()).build();
    RunService::new(engine, |launcher| {
        DurableScheduler::builder(store, launcher)
            .config(SchedulerConfig::new(SERVER))
            .build()
    })
}

/// A child process: `first` starts the run and never ends on its own;
/// `second` continues what the first left.
async fn child(url: &str) {
    let store: Arc<dyn Store> = Arc::new(SqlStore::connect(url).await.unwrap());
    let service = service(store.clone());
    match std::env::var(ROLE).unwrap().as_str() {
        "first" => {
            let job = store.get_job("p", JOB).await.unwrap().unwrap();
            let request = StartRun {
                subject: Subject::new("alice", Vec::<String>::new()),
                ..StartRun::default()
            };
            let Started::Now(e) = service.start_run("p", &job, request).await.unwrap() else {
                panic!("the run did not start now");
            };
            say(format!("started {}", e.id));
            std::future::pending::<()>().await;
        }
        _ => {
            let recovered = service.scheduler.recover().await.unwrap();
            let report = service.scheduler.tick().await.unwrap();
            say(format!(
                "recovered {recovered} continued {}",
                report.continued
            ));
            service.scheduler.wait_idle().await;
            say("done".into());
            std::process::exit(0);
        }
    }
}

/// Starts a child process in `role`; returns it with its report lines.
fn spawn(
    test_name: &str,
    url: &str,
    role: &str,
) -> (std::process::Child, impl Iterator<Item = String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([test_name, "--exact", "--nocapture"])
        .env(CHILD, url)
        .env(ROLE, role)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| l.strip_prefix("DURABLE ").map(str::to_owned));
    (child, lines)
}

fn job(dir: &Path) -> Job {
    let d = dir.display();
    let mut job = Job::new(
        "durable",
        Workflow::new(vec![
            Step::command(format!(
                "echo ran >> {d}/step1 && echo RUNDECK:DATA:token=abc"
            )),
            Step::command(format!(
                "if [ -f {d}/marker ]; then echo \"got ${{data.token}}\" >> {d}/out; \
                 else echo $$ > {d}/pid.tmp && mv {d}/pid.tmp {d}/pid && exec sleep 600; fi"
            )),
            Step::command(format!("echo done >> {d}/out")),
        ]),
    );
    job.uuid = Some(JOB.into());
    job.sequence.strategy = Strategy::Sequential;
    job.durable = true;
    job
}

/// Waits for `path` to exist (step 2 of the first process is running).
fn wait_for(path: &PathBuf) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn kill_and_continue(test_name: &str, url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqlStore::connect(url).await.unwrap());
    store.create_project(&Project::new("p")).await.unwrap();
    store.put_job("p", &job(dir.path())).await.unwrap();

    // First process: killed while step 2 runs, after step 1 captured data.
    let (mut first, mut lines) = spawn(test_name, url, "first");
    let id: u64 = lines
        .by_ref()
        .find_map(|l| l.strip_prefix("started ").map(|n| n.parse().unwrap()))
        .expect("the first process started the run");
    let pid = wait_for(&dir.path().join("pid"));
    first.kill().unwrap();
    first.wait().unwrap();
    drop(lines);
    // the step's own process outlives the killed one: end it too
    let _ = Command::new("kill").args(["-9", pid.trim()]).status();

    let e = store.get_execution(id).await.unwrap().unwrap();
    assert_eq!(e.status, ExecutionStatus::Running, "left running: {e:?}");
    let state = store.get_run_state(id).await.unwrap().expect("recorded");
    assert_eq!(state.next_step, 1, "recorded after step 1: {state:?}");
    assert_eq!(state.data["token"], "abc");

    // Second process: the same server restarted; step 2 now finds its marker.
    std::fs::write(dir.path().join("marker"), "").unwrap();
    let (mut second, lines) = spawn(test_name, url, "second");
    let report: Vec<String> = lines.collect();
    assert!(second.wait().unwrap().success());
    assert!(
        report.contains(&"recovered 0 continued 1".to_owned()),
        "{report:?}"
    );
    assert!(report.contains(&"done".to_owned()), "{report:?}");

    let e = store.get_execution(id).await.unwrap().unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{e:?}");
    assert_eq!(e.server_uuid.as_deref(), Some(SERVER));
    let ran = std::fs::read_to_string(dir.path().join("step1")).unwrap();
    assert_eq!(ran, "ran\n", "step 1 ran once, before the kill");
    let out = std::fs::read_to_string(dir.path().join("out")).unwrap();
    assert_eq!(
        out, "got abc\ndone\n",
        "steps 2 and 3 with the data of step 1"
    );
    assert_eq!(store.get_run_state(id).await.unwrap(), None);
    let log: Vec<String> = store
        .read_log(id, 0, 1_000)
        .await
        .unwrap()
        .events
        .into_iter()
        .map(|e| e.text)
        .collect();
    assert!(
        log.iter()
            .any(|l| l.starts_with("Durable run continued from step 2")),
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_run_killed_between_steps_continues_sqlite() {
    if let Ok(url) = std::env::var(CHILD) {
        return child(&url).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/fd.db?mode=rwc", dir.path().display());
    kill_and_continue("durable_run_killed_between_steps_continues_sqlite", &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_run_killed_between_steps_continues_postgres() {
    if let Ok(url) = std::env::var(CHILD) {
        return child(&url).await;
    }
    common::on_fresh_database(
        "PostgreSQL",
        "FOREDECK_TEST_POSTGRES",
        "postgres://postgres@127.0.0.1:5432",
        "postgres",
        |_admin, url, _name| async move {
            kill_and_continue("durable_run_killed_between_steps_continues_postgres", &url).await;
        },
    )
    .await;
}
