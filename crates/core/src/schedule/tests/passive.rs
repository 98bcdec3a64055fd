//! A passive server's scheduler: it leaves due fires to an active server,
//! or, with none left, drops them; it tells its mode in its heartbeat.

use super::*;
use crate::runs::ExecutionMode;

/// [`TestLauncher`] that accepts runs only while `mode` is active.
#[derive(Debug)]
struct ModeLauncher {
    inner: Arc<TestLauncher>,
    mode: ExecutionMode,
}

#[async_trait]
impl Launcher for ModeLauncher {
    async fn run(
        &self,
        project: &str,
        job: &Job,
        execution: Execution,
        options: BTreeMap<String, String>,
    ) -> crate::Result<Execution> {
        self.inner.run(project, job, execution, options).await
    }

    fn accepts_runs(&self) -> bool {
        self.mode.is_active()
    }
}

fn passive(store: &Arc<dyn Store>) -> (Arc<ModeLauncher>, ExecutionMode) {
    let mode = ExecutionMode::default();
    mode.set_active(false);
    let l = Arc::new(ModeLauncher {
        inner: TestLauncher::new(store),
        mode: mode.clone(),
    });
    (l, mode)
}

#[tokio::test]
async fn alone_and_passive_drops_fires_then_fires_again_when_active() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let (launcher, mode) = passive(&store);
    let s = sched(&store, launcher.clone(), &clock, "s1");
    let job = cron_job(&store, "minutely", "0 * * * * ?").await;
    s.schedule_job("p", &job).await.unwrap();

    clock.set(t0() + Duration::minutes(1));
    let r = s.tick().await.unwrap();
    assert_eq!((r.started, r.disabled), (0, 1), "{r:?}");
    assert!(executions(&store, &job).await.is_empty());
    assert_eq!(
        s.next_fire_time("p", job.uuid.as_deref().unwrap())
            .await
            .unwrap(),
        Some(t0() + Duration::minutes(2)),
        "the fire is skipped, not kept for later"
    );
    let beat = store.list_servers().await.unwrap();
    assert_eq!(beat[0].info["executionMode"], "passive");

    mode.set_active(true);
    clock.set(t0() + Duration::minutes(2));
    let r = s.tick().await.unwrap();
    assert_eq!(r.started, 1, "{r:?}");
    s.wait_idle().await;
    assert_eq!(executions(&store, &job).await.len(), 1);
    let beat = store.list_servers().await.unwrap();
    assert_eq!(
        beat[0].info["executionMode"], "active",
        "a changed mode is told at the next tick"
    );
}

#[tokio::test]
async fn passive_leaves_due_fires_to_an_active_peer() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let (launcher, _mode) = passive(&store);
    let quiet = sched(&store, launcher, &clock, "s1");
    let peer_launcher = TestLauncher::new(&store);
    let peer = sched(&store, peer_launcher.clone(), &clock, "s2");
    let job = cron_job(&store, "minutely", "0 * * * * ?").await;
    quiet.schedule_job("p", &job).await.unwrap();
    // the peer heartbeats (an active server, its mode in its heartbeat)
    assert_eq!(peer.tick().await.unwrap().started, 0);

    clock.set(t0() + Duration::minutes(1));
    let r = quiet.tick().await.unwrap();
    assert_eq!((r.claimed, r.started, r.disabled), (0, 0, 0), "{r:?}");
    let r = peer.tick().await.unwrap();
    assert_eq!(r.started, 1, "{r:?}");
    peer.wait_idle().await;
    let all = executions(&store, &job).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].server_uuid.as_deref(), Some("s2"));
}
