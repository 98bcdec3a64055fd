//! One execution at a time (skip, queue, allow) and one-off runs.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_execution_at_a_time_skip_queue_allow() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let gate = Arc::new(Semaphore::new(0));
    let launcher = TestLauncher::gated(&store, &gate);
    let s = sched(&store, launcher.clone(), &clock, "s1");
    let skip = serial_job(&store, "skip", "skip").await;
    let queue = serial_job(&store, "queue", "queue").await;
    let allow = serial_job(&store, "allow", "allow").await;
    for j in [&skip, &queue, &allow] {
        s.schedule_job("p", j).await.unwrap();
    }
    for _ in 0..2 {
        clock.advance(Duration::seconds(10));
        s.tick().await.unwrap();
    }
    let status = |v: &[Execution]| v.iter().map(|e| e.status.clone()).collect::<Vec<_>>();
    use ExecutionStatus::{Missed, Queued, Running, Succeeded};
    let sk = executions(&store, &skip).await;
    assert_eq!(status(&sk), vec![Running, Missed]);
    assert!(sk[1]
        .failure
        .as_deref()
        .unwrap()
        .contains(&format!("execution {}", sk[0].id)));
    assert_eq!(
        status(&executions(&store, &queue).await),
        vec![Running, Queued]
    );
    assert_eq!(
        status(&executions(&store, &allow).await),
        vec![Running, Running]
    );

    // the four running executions end; the queued one then starts
    let queued_id = executions(&store, &queue).await[1].id;
    gate.add_permits(4);
    while !launcher.ids().contains(&queued_id) {
        tokio::task::yield_now().await;
    }
    let q = executions(&store, &queue).await;
    assert_eq!(status(&q)[0], Succeeded, "it started after the first ended");
    // it may already hold one of the four permits and have ended
    assert!(matches!(q[1].status, Running | Succeeded), "{:?}", q[1]);
    assert_eq!(q[1].server_uuid.as_deref(), Some("s1"));
    gate.add_permits(1);
    s.wait_idle().await;
    assert_eq!(
        status(&executions(&store, &queue).await),
        vec![Succeeded, Succeeded]
    );
}

#[tokio::test]
async fn run_at_fires_once_with_its_options() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let launcher = TestLauncher::new(&store);
    let s = sched(&store, launcher.clone(), &clock, "s1");
    let mut job = cron_job(&store, "oneoff", "0 0 0 1 1 ? 2099").await;
    job.schedule = None;
    let job = store.put_job("p", &job).await.unwrap();
    let at = t0() + Duration::seconds(90);
    let request = RunRequest {
        project: "p".into(),
        job_id: job.uuid.clone().unwrap(),
        options: BTreeMap::from([("env".to_owned(), "prod".to_owned())]),
        user: "alice".into(),
        filter: Some("tags: web".into()),
        roles: None,
    };
    let scheduled = s.run_at(request, at).await.unwrap();
    // recorded at once, owned by no server, at its time
    let stored = store.get_execution(scheduled.id).await.unwrap().unwrap();
    assert_eq!(stored, scheduled);
    assert_eq!(stored.status, ExecutionStatus::Scheduled);
    assert_eq!(stored.date_started, at);
    assert_eq!(stored.server_uuid, None);
    assert_eq!(
        (stored.user.as_str(), stored.arg_string.as_str()),
        ("alice", "-env prod")
    );
    assert_eq!(
        s.next_fire_time("p", job.uuid.as_deref().unwrap())
            .await
            .unwrap(),
        Some(at)
    );
    // not before its time
    clock.set(at - Duration::seconds(1));
    assert_eq!(s.tick().await.unwrap().started, 0);
    clock.set(at);
    assert_eq!(s.tick().await.unwrap().started, 1);
    clock.advance(Duration::hours(1));
    assert_eq!(s.tick().await.unwrap().started, 0);
    s.wait_idle().await;
    let all = executions(&store, &job).await;
    assert_eq!(all.len(), 1);
    // the scheduled execution ran, under its id
    assert_eq!(all[0].id, scheduled.id);
    assert_eq!(all[0].status, ExecutionStatus::Succeeded);
    assert_eq!(all[0].user, "alice");
    assert_eq!(all[0].filter.as_deref(), Some("tags: web"));
    assert_eq!(all[0].date_started, at);
    let runs = launcher.runs.lock().unwrap().clone();
    assert_eq!(runs[0].1["env"], "prod");
    assert!(store.list_triggers(None).await.unwrap().is_empty());
    assert_eq!(
        s.next_fire_time("p", job.uuid.as_deref().unwrap())
            .await
            .unwrap(),
        None
    );
}

/// A one-off trigger waits in the store: it takes no secure option value,
/// and keeps nothing of a refused one.
#[tokio::test]
async fn run_at_refuses_secure_option_values() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let s = sched(&store, TestLauncher::new(&store), &clock, "s1");
    let mut job = cron_job(&store, "secure", "0 0 0 1 1 ? 2099").await;
    job.schedule = None;
    let mut pw = crate::model::JobOption::new("pw");
    pw.secure = true;
    job.options = vec![crate::model::JobOption::new("env"), pw];
    let job = store.put_job("p", &job).await.unwrap();
    let request = |options: &[(&str, &str)]| RunRequest {
        project: "p".into(),
        job_id: job.uuid.clone().unwrap(),
        options: options
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..RunRequest::default()
    };
    let at = t0() + Duration::minutes(5);
    let e = s
        .run_at(request(&[("env", "prod"), ("pw", "hunter2-secret")]), at)
        .await
        .unwrap_err();
    assert_eq!(crate::ErrorCode::code(&e), "job.invalid");
    assert!(e.to_string().contains("options.pw"), "{e}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert!(store.list_triggers(None).await.unwrap().is_empty());
    assert!(executions(&store, &job).await.is_empty());
    // without the secure value it is scheduled
    s.run_at(request(&[("env", "prod")]), at).await.unwrap();
    assert_eq!(store.list_triggers(None).await.unwrap().len(), 1);
}

/// Two servers fire two different triggers of one `multipleExecutions:
/// false` job (its schedule and a one-off run) at the same instant: one run
/// starts; the other fire is skipped or queued, never a second run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_triggers_of_a_serial_job_at_one_instant_start_one_run() {
    use ExecutionStatus::{Missed, Queued, Running};
    for (policy, other) in [("skip", Missed), ("queue", Queued)] {
        let store = memory().await;
        let clock = ManualClock::new(t0());
        let gate = Arc::new(Semaphore::new(0));
        let a = sched(&store, TestLauncher::gated(&store, &gate), &clock, "a");
        let b = sched(&store, TestLauncher::gated(&store, &gate), &clock, "b");
        let job = serial_job(&store, policy, policy).await;
        a.schedule_job("p", &job).await.unwrap();
        let at = t0() + Duration::seconds(10);
        let request = RunRequest {
            project: "p".into(),
            job_id: job.uuid.clone().unwrap(),
            options: BTreeMap::new(),
            user: "alice".into(),
            filter: None,
            roles: None,
        };
        b.run_at(request, at).await.unwrap();
        clock.set(at);
        let (ra, rb) = tokio::join!(a.tick(), b.tick());
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(ra.fired + rb.fired, 2, "{policy}");
        assert_eq!(ra.started + rb.started, 1, "{policy}");
        let mut statuses: Vec<ExecutionStatus> = executions(&store, &job)
            .await
            .into_iter()
            .map(|e| e.status)
            .collect();
        statuses.sort_by_key(|s| s.as_str().to_owned());
        let mut want = vec![Running, other];
        want.sort_by_key(|s| s.as_str().to_owned());
        assert_eq!(statuses, want, "{policy}");
        gate.add_permits(10);
        a.wait_idle().await;
        b.wait_idle().await;
    }
}
