//! Fires: due times, misfire policies, DST, lag, project switches, the
//! subject a run acts as.

use super::*;

#[tokio::test]
async fn fires_each_due_time_once() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let launcher = TestLauncher::new(&store);
    let s = sched(&store, launcher.clone(), &clock, "s1");
    let job = cron_job(&store, "minutely", "0 * * * * ?").await;
    let next = s.schedule_job("p", &job).await.unwrap();
    assert_eq!(next, Some(t0() + Duration::minutes(1)));

    clock.set(t0() + Duration::seconds(59));
    assert_eq!(s.tick().await.unwrap().started, 0, "not due yet");
    clock.set(t0() + Duration::minutes(1));
    assert_eq!(s.tick().await.unwrap().started, 1);
    assert_eq!(
        s.tick().await.unwrap().started,
        0,
        "the same time fires once"
    );
    s.wait_idle().await;
    let all = executions(&store, &job).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].status, ExecutionStatus::Succeeded);
    assert_eq!(all[0].date_started, t0() + Duration::minutes(1));
    assert_eq!(all[0].server_uuid.as_deref(), Some("s1"));
    assert_eq!(
        s.next_fire_time("p", job.uuid.as_deref().unwrap())
            .await
            .unwrap(),
        Some(t0() + Duration::minutes(2))
    );
    // late by less than the threshold: fires normally, at its own time
    clock.set(t0() + Duration::minutes(2) + Duration::seconds(45));
    let r = s.tick().await.unwrap();
    assert_eq!((r.started, r.missed), (1, 0));
    s.wait_idle().await;
    let all = executions(&store, &job).await;
    assert_eq!(all[1].date_started, t0() + Duration::minutes(2));
    assert_eq!(launcher.ids(), all.iter().map(|e| e.id).collect::<Vec<_>>());
}

#[tokio::test]
async fn misfire_policies_after_a_three_hour_outage() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let launcher = TestLauncher::new(&store);
    let notes = Arc::new(RecordingNotifier::default());
    let s = DurableScheduler::builder(store.clone(), launcher.clone())
        .clock(Arc::new(clock.clone()))
        .notifier(notes.clone())
        .config(SchedulerConfig::new("s1"))
        .build();
    let mut jobs = Vec::new();
    for (name, policy) in [
        ("once-now", None),
        ("skip", Some("skip")),
        ("all", Some("fire-all")),
    ] {
        let mut job = cron_job(&store, name, "0 * * * * ?").await;
        if let Some(p) = policy {
            job.extra.insert(MISFIRE_POLICY_KEY.into(), p.into());
        }
        job.extra.insert(MISFIRE_LIMIT_KEY.into(), 5.into());
        let job = store.put_job("p", &job).await.unwrap();
        s.schedule_job("p", &job).await.unwrap();
        jobs.push(job);
    }
    // the outage: nothing ticks from 12:00 to 15:00:30; 180 fire times pass
    let now = t0() + Duration::hours(3) + Duration::seconds(30);
    clock.set(now);
    let r = s.tick().await.unwrap();
    s.wait_idle().await;
    assert_eq!((r.fired, r.started, r.missed), (3, 1 + 5, 1 + 1));

    let once = executions(&store, &jobs[0]).await;
    assert_eq!(once.len(), 1, "fire-once-now collapses the missed fires");
    assert_eq!(once[0].date_started, now);
    let log = store.read_log(once[0].id, 0, 10).await.unwrap().events;
    assert!(
        log[0].text.contains("stands for 180 fire time(s)")
            && log[0].text.contains("fire-once-now"),
        "{:?}",
        log[0].text
    );

    let skipped = executions(&store, &jobs[1]).await;
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].status, ExecutionStatus::Missed);
    assert!(skipped[0]
        .failure
        .as_deref()
        .unwrap()
        .contains("missed 180 fire time(s)"));
    let mut seen = notes.seen();
    seen.sort_by(|a, b| a.1.cmp(&b.1));
    let beyond_id = executions(&store, &jobs[2])
        .await
        .iter()
        .find(|e| e.status == ExecutionStatus::Missed)
        .unwrap()
        .id;
    assert_eq!(
        seen,
        vec![
            (NotificationTrigger::Failure, "all".to_owned(), beyond_id),
            (
                NotificationTrigger::Failure,
                "skip".to_owned(),
                skipped[0].id
            ),
        ],
        "each missed record sends the failure notification"
    );

    let all = executions(&store, &jobs[2]).await;
    let ran: Vec<DateTime<Utc>> = all
        .iter()
        .filter(|e| e.status == ExecutionStatus::Succeeded)
        .map(|e| e.date_started)
        .collect();
    let expected: Vec<DateTime<Utc>> = (1..=5).map(|m| t0() + Duration::minutes(m)).collect();
    assert_eq!(
        ran, expected,
        "fire-all runs the oldest missed times up to its cap"
    );
    let beyond: Vec<&Execution> = all
        .iter()
        .filter(|e| e.status == ExecutionStatus::Missed)
        .collect();
    assert_eq!(beyond.len(), 1);
    assert!(beyond[0]
        .failure
        .as_deref()
        .unwrap()
        .contains("missed 175 fire time(s)"));

    // all three wait for the next time after the outage
    for job in &jobs {
        assert_eq!(
            s.next_fire_time("p", job.uuid.as_deref().unwrap())
                .await
                .unwrap(),
            Some(t0() + Duration::hours(3) + Duration::minutes(1))
        );
    }
}

#[tokio::test]
async fn spring_forward_in_berlin_through_the_scheduler() {
    let store = memory().await;
    // Saturday before the switch, 12:00 UTC
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 28, 12, 0, 0).unwrap());
    let s = sched(&store, TestLauncher::new(&store), &clock, "s1");
    let mut job = cron_job(&store, "nightly", "0 30 2 * * ?").await;
    job.time_zone = Some("Europe/Berlin".into());
    // 02:30 does not exist on 2026-03-29: it runs at 03:00 CEST = 01:00 UTC
    let next = s.schedule_job("p", &job).await.unwrap();
    assert_eq!(
        next,
        Some(Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap())
    );
    clock.set(next.unwrap());
    assert_eq!(s.tick().await.unwrap().started, 1);
    // and the day after at 02:30 CEST = 00:30 UTC
    assert_eq!(
        s.next_fire_time("p", job.uuid.as_deref().unwrap())
            .await
            .unwrap(),
        Some(Utc.with_ymd_and_hms(2026, 3, 30, 0, 30, 0).unwrap())
    );
}

#[tokio::test]
async fn lag_is_how_late_the_latest_fires_were() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = DurableScheduler::builder(store.clone(), TestLauncher::new(&store))
        .clock(Arc::new(clock.clone()))
        .config(SchedulerConfig::new("s1"))
        .on_lag({
            let seen = seen.clone();
            move |lag| seen.lock().unwrap().push(lag)
        })
        .build();
    let a = cron_job(&store, "a", "0 * * * * ?").await;
    let b = cron_job(&store, "b", "30 * * * * ?").await;
    s.schedule_job("p", &a).await.unwrap();
    s.schedule_job("p", &b).await.unwrap();
    let secs = std::time::Duration::from_secs;

    // on time
    clock.set(t0() + Duration::seconds(30));
    assert_eq!(s.tick().await.unwrap().lag, Some(secs(0)));
    // nothing due: nothing reported, the last figure stands
    assert_eq!(s.tick().await.unwrap().lag, None);
    clock.set(t0() + Duration::minutes(1) + Duration::seconds(3));
    assert_eq!(s.tick().await.unwrap().lag, Some(secs(3)));
    // both due, 12 s and 42 s late: the larger one
    clock.set(t0() + Duration::minutes(2) + Duration::seconds(12));
    let r = s.tick().await.unwrap();
    assert_eq!((r.fired, r.lag), (2, Some(secs(42))));
    // past the misfire threshold (b's first missed time was 2:30): still
    // a fire, and that late
    clock.set(t0() + Duration::minutes(5) + Duration::seconds(35));
    let r = s.tick().await.unwrap();
    assert_eq!((r.fired, r.lag), (2, Some(secs(185))));
    s.wait_idle().await;
    assert_eq!(
        *seen.lock().unwrap(),
        vec![secs(0), secs(3), secs(42), secs(185)]
    );
}

#[tokio::test]
async fn job_and_project_switches() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let launcher = TestLauncher::new(&store);
    let s = sched(&store, launcher.clone(), &clock, "s1");
    let mut job = cron_job(&store, "switch", "0 * * * * ?").await;
    let id = job.uuid.clone().unwrap();
    assert!(s.schedule_job("p", &job).await.unwrap().is_some());
    job.schedule_enabled = false;
    assert_eq!(s.schedule_job("p", &job).await.unwrap(), None);
    assert!(store.list_triggers(None).await.unwrap().is_empty());
    job.schedule_enabled = true;
    job.execution_enabled = false;
    assert_eq!(s.schedule_job("p", &job).await.unwrap(), None);
    job.execution_enabled = true;
    assert!(s.schedule_job("p", &job).await.unwrap().is_some());

    // a project with schedules off: the fire passes without a run
    let mut project = Project::new("p");
    project
        .config
        .insert(PROJECT_DISABLE_SCHEDULE.into(), "true".into());
    store.update_project(&project).await.unwrap();
    clock.set(t0() + Duration::minutes(1));
    let r = s.tick().await.unwrap();
    assert_eq!((r.fired, r.started, r.disabled), (1, 0, 1));
    assert_eq!(
        s.next_fire_time("p", &id).await.unwrap(),
        Some(t0() + Duration::minutes(2))
    );
    // schedules on again: the next time runs
    project.config.clear();
    store.update_project(&project).await.unwrap();
    clock.set(t0() + Duration::minutes(2));
    assert_eq!(s.tick().await.unwrap().started, 1);
    // executions off: neither schedules nor one-off runs start
    project
        .config
        .insert(PROJECT_DISABLE_EXECUTIONS.into(), "true".into());
    store.update_project(&project).await.unwrap();
    let request = RunRequest {
        project: "p".into(),
        job_id: id.clone(),
        ..RunRequest::default()
    };
    let later = s
        .run_at(request, t0() + Duration::minutes(3))
        .await
        .unwrap();
    clock.set(t0() + Duration::minutes(3));
    let r = s.tick().await.unwrap();
    assert_eq!((r.fired, r.started, r.disabled), (2, 0, 2));
    s.wait_idle().await;
    // the schedule's fire leaves no record; the one-off run's says why it
    // did not run
    let all = executions(&store, &job).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].id, later.id);
    assert_eq!(all[1].status, ExecutionStatus::Failed);
    let why = all[1].failure.as_deref().unwrap_or("");
    assert!(
        why.contains("executions of project p are disabled"),
        "{why}"
    );

    // a job with executions disabled refuses one-off runs
    job.execution_enabled = false;
    let job = store.put_job("p", &job).await.unwrap();
    let request = RunRequest {
        project: "p".into(),
        job_id: id.clone(),
        ..RunRequest::default()
    };
    let e = s.run_at(request, t0()).await.unwrap_err();
    assert!(e.to_string().contains("disabled"), "{e}");
    s.unschedule_job("p", &id).await.unwrap();
    assert!(store.list_triggers(None).await.unwrap().is_empty());
    assert!(!job.execution_enabled);
}

#[tokio::test]
async fn bad_schedules_fail_at_save_time() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let s = sched(&store, TestLauncher::new(&store), &clock, "s1");
    for (cron, needle) in [
        ("0 0 12 * * MON", "both set"),
        ("0 0 12 ? * * 2020", "never fires"),
        ("0 0 25 ? * *", "hour"),
        ("not a pattern", "expected 5 fields"),
    ] {
        let job = cron_job(&store, "bad", cron).await;
        let e = s.schedule_job("p", &job).await.unwrap_err();
        assert!(
            matches!(e, Error::InvalidSchedule { .. }) && e.to_string().contains(needle),
            "{cron}: {e}"
        );
    }
    let mut job = cron_job(&store, "bad", "0 0 12 * * ?").await;
    job.extra
        .insert(MISFIRE_POLICY_KEY.into(), "sometimes".into());
    let e = s.schedule_job("p", &job).await.unwrap_err();
    assert!(
        e.to_string().contains("fire-once-now, skip, fire-all"),
        "{e}"
    );
    let mut job = cron_job(&store, "bad", "0 0 12 * * ?").await;
    job.time_zone = Some("Mars/Olympus".into());
    let e = s.schedule_job("p", &job).await.unwrap_err();
    assert!(e.to_string().contains("unknown time zone"), "{e}");
    assert!(store.list_triggers(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn scheduled_runs_act_as_the_subject_that_scheduled_them() {
    use crate::authorizer::Subject;
    use crate::testing::StaticAuthorizer;
    let store = memory().await;
    let clock = ManualClock::new(t0());
    // an engine whose authorizer refuses every `run`: runs with a subject
    // cannot start, runs without one (a library caller's) are not checked
    let engine = crate::Engine::builder()
        .shared_store(store.clone())
        .authorizer(Arc::new(
            StaticAuthorizer::allow_all().with_action("run", false),
        ))
        .build();
    let s = sched(&store, Arc::new(EngineLauncher(engine)), &clock, "s1");
    let owned = cron_job(&store, "owned", "0 * * * * ?").await;
    let plain = cron_job(&store, "plain", "0 * * * * ?").await;
    let owner = Subject::new("olga", ["ops"]);
    s.schedule_job_as("p", &owned, &owner).await.unwrap();
    s.schedule_job("p", &plain).await.unwrap();
    let spec: TriggerSpec = serde_json::from_value(
        store
            .get_trigger("job:uuid-owned")
            .await
            .unwrap()
            .unwrap()
            .spec,
    )
    .unwrap();
    assert_eq!(spec.subject(), Some(owner));

    clock.set(t0() + Duration::minutes(1));
    assert_eq!(s.tick().await.unwrap().started, 2);
    s.wait_idle().await;
    let run = &executions(&store, &owned).await[0];
    assert_eq!(run.user, "olga");
    assert_eq!(run.status, ExecutionStatus::Failed);
    let why = run.failure.as_deref().unwrap_or("");
    assert!(
        why.contains("forbidden") && why.contains("\"olga\""),
        "{why}"
    );
    assert_eq!(
        executions(&store, &plain).await[0].status,
        ExecutionStatus::Succeeded
    );

    // a one-off run carries the roles of who asked for it
    s.unschedule_job("p", owned.uuid.as_deref().unwrap())
        .await
        .unwrap();
    let at = t0() + Duration::minutes(5);
    s.run_at(
        RunRequest {
            project: "p".into(),
            job_id: owned.uuid.clone().unwrap(),
            user: "olga".into(),
            roles: Some(vec!["ops".into()]),
            ..RunRequest::default()
        },
        at,
    )
    .await
    .unwrap();
    clock.set(at);
    s.tick().await.unwrap();
    s.wait_idle().await;
    let runs = executions(&store, &owned).await;
    let last = runs.last().unwrap();
    assert_eq!(last.date_started, at);
    assert_eq!(last.status, ExecutionStatus::Failed, "{:?}", last.failure);
}
