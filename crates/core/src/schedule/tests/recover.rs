//! Restarts, crashes, lapsed claims and takeover of dead servers.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_on_one_store_fire_each_time_once() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let launchers = [TestLauncher::new(&store), TestLauncher::new(&store)];
    let a = sched(&store, launchers[0].clone(), &clock, "a");
    let b = sched(&store, launchers[1].clone(), &clock, "b");
    let mut jobs = Vec::new();
    for i in 0..50 {
        let job = cron_job(&store, &format!("j{i}"), "* * * * * ?").await;
        a.schedule_job("p", &job).await.unwrap();
        jobs.push(job);
    }
    for _ in 0..120 {
        clock.advance(Duration::seconds(1));
        let (ra, rb) = tokio::join!(a.tick(), b.tick());
        ra.unwrap();
        rb.unwrap();
    }
    a.wait_idle().await;
    b.wait_idle().await;
    let expected: BTreeSet<DateTime<Utc>> =
        (1..=120).map(|s| t0() + Duration::seconds(s)).collect();
    for job in &jobs {
        let all = executions(&store, job).await;
        let times: BTreeSet<DateTime<Utc>> = all.iter().map(|e| e.date_started).collect();
        assert_eq!(all.len(), 120, "{}", job.name);
        assert_eq!(times, expected, "{}", job.name);
    }
    let (na, nb) = (launchers[0].ids().len(), launchers[1].ids().len());
    assert_eq!(na + nb, 50 * 120);
}

#[tokio::test]
async fn crash_between_fire_and_finish_marks_the_orphan_incomplete() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let gate = Arc::new(Semaphore::new(0));
    let first = sched(&store, TestLauncher::gated(&store, &gate), &clock, "s1");
    let job = cron_job(&store, "minutely", "0 * * * * ?").await;
    first.schedule_job("p", &job).await.unwrap();
    clock.set(t0() + Duration::minutes(1));
    assert_eq!(first.tick().await.unwrap().started, 1);
    // killed while the execution runs: nothing more is recorded
    drop(first);
    let orphan = executions(&store, &job).await;
    assert_eq!(orphan.len(), 1);
    assert_eq!(orphan[0].status, ExecutionStatus::Running);

    // the same server starts again, still within the same second
    let launcher = TestLauncher::new(&store);
    let again = sched(&store, launcher.clone(), &clock, "s1");
    let r = again.tick().await.unwrap();
    assert_eq!((r.recovered, r.started), (1, 0), "no second run of 12:01");
    clock.set(t0() + Duration::minutes(2));
    assert_eq!(again.tick().await.unwrap().started, 1);
    again.wait_idle().await;
    let all = executions(&store, &job).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].status, ExecutionStatus::Incomplete);
    assert!(all[0].failure.as_deref().unwrap().contains("restarted"));
    assert_eq!(all[0].date_started, t0() + Duration::minutes(1));
    assert_eq!(all[1].status, ExecutionStatus::Succeeded);
    assert_eq!(all[1].date_started, t0() + Duration::minutes(2));
}

#[tokio::test]
async fn a_claim_of_a_dead_server_lapses_and_the_fire_happens_once() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let launcher = TestLauncher::new(&store);
    let s = sched(&store, launcher.clone(), &clock, "alive");
    let job = cron_job(&store, "minutely", "0 * * * * ?").await;
    s.schedule_job("p", &job).await.unwrap();
    clock.set(t0() + Duration::minutes(1));
    // another server claims the due trigger, then dies before firing it
    let claimed = store
        .claim_due_triggers("dead", clock.now(), SchedulerConfig::new("x").lease, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(s.tick().await.unwrap().claimed, 0, "the claim holds");
    clock.advance(Duration::seconds(31));
    let r = s.tick().await.unwrap();
    assert_eq!((r.claimed, r.started), (1, 1), "the lapsed claim is taken");
    s.wait_idle().await;
    let all = executions(&store, &job).await;
    assert_eq!(all.len(), 1);
    assert_eq!(
        all[0].date_started,
        t0() + Duration::minutes(1),
        "31 s late is under the misfire threshold: a normal fire"
    );
}

#[tokio::test]
async fn survivor_takes_over_a_dead_servers_runs() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let gate = Arc::new(Semaphore::new(0));
    let doomed = sched(&store, TestLauncher::gated(&store, &gate), &clock, "doomed");
    let plain = cron_job(&store, "plain", "0 * * * * ?").await;
    let mut retried = cron_job(&store, "retried", "0 * * * * ?").await;
    retried.retry = Some(Retry {
        retry: "2".into(),
        delay: None,
    });
    let retried = store.put_job("p", &retried).await.unwrap();
    doomed.schedule_job("p", &plain).await.unwrap();
    doomed.schedule_job("p", &retried).await.unwrap();
    clock.set(t0() + Duration::minutes(1));
    assert_eq!(doomed.tick().await.unwrap().started, 2);
    drop(doomed);

    let launcher = TestLauncher::new(&store);
    let survivor = sched(&store, launcher.clone(), &clock, "survivor");
    // 90 s of silence is not yet death
    clock.set(t0() + Duration::minutes(1) + Duration::seconds(90));
    let r = survivor.tick().await.unwrap();
    assert_eq!((r.taken_over, r.rerun), (0, 0));
    assert_eq!(r.started, 2, "the survivor fires 12:02 of both jobs");
    clock.set(t0() + Duration::minutes(1) + Duration::seconds(121));
    let r = survivor.tick().await.unwrap();
    assert_eq!((r.taken_over, r.rerun), (1, 1));
    survivor.wait_idle().await;
    let servers: Vec<String> = store
        .list_servers()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.server)
        .collect();
    assert_eq!(servers, vec!["survivor".to_owned()]);

    let p = executions(&store, &plain).await;
    assert_eq!(p[0].status, ExecutionStatus::Incomplete);
    assert_eq!(p[0].server_uuid.as_deref(), Some("survivor"));
    assert!(p[0].failure.as_deref().unwrap().contains("doomed"));
    let r = executions(&store, &retried).await;
    assert_eq!(
        r.len(),
        4,
        "the orphan, the 12:02 and 12:03 fires, and the re-run"
    );
    assert_eq!(r[0].status, ExecutionStatus::Incomplete);
    let rerun = r.iter().find(|e| e.retry_of == Some(r[0].id)).unwrap();
    assert_eq!(rerun.retry_attempt, 1);
    assert_eq!(rerun.status, ExecutionStatus::Succeeded);
    assert_eq!(rerun.server_uuid.as_deref(), Some("survivor"));
}
