use crate::authorizer::{AuthContext, Authorizer, Decision, Resource, Subject};
use crate::error::{Error, Result};
use crate::executor::{Executor, NodeCommand, NodeOutcome, NodeRequest, OutputSink};
use crate::model::{Execution, Job, Stream};
use crate::notifier::{NotificationTrigger, Notifier};
use crate::schedule::{RunRequest, Scheduler};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What the [`FakeExecutor`] does for a matching request.
#[derive(Clone, Debug, Default)]
pub struct FakeReply {
    /// Lines printed on stdout.
    pub stdout: Vec<String>,
    /// Lines printed on stderr.
    pub stderr: Vec<String>,
    /// Exit code.
    pub exit: i32,
    /// Wait this long before exiting (abort and timeout cut it short).
    pub delay: Option<Duration>,
}

impl FakeReply {
    /// Exits with that code, printing nothing.
    pub fn exit(code: i32) -> Self {
        FakeReply {
            exit: code,
            ..FakeReply::default()
        }
    }

    /// Prints one stdout line and exits 0.
    pub fn print(line: impl Into<String>) -> Self {
        FakeReply {
            stdout: vec![line.into()],
            ..FakeReply::default()
        }
    }
}

type Rule = (Option<String>, Option<String>, FakeReply);

/// An executor that answers from rules instead of running anything: the first
/// rule whose node name and command substring match decides; otherwise exit 0.
/// Records every request it saw, and how many it ran at once.
#[derive(Debug, Default)]
pub struct FakeExecutor {
    rules: Mutex<Vec<Rule>>,
    calls: Mutex<Vec<(String, String)>>,
    gauge: Mutex<Gauge>,
}

/// Requests running now and the most seen at once.
#[derive(Debug, Default)]
struct Gauge {
    total: usize,
    max_total: usize,
    by_node: HashMap<String, usize>,
    max_node: usize,
}

/// Counts a request as running until dropped.
struct Running<'a>(&'a FakeExecutor, String);

impl<'a> Running<'a> {
    fn start(fake: &'a FakeExecutor, node: &str) -> Self {
        if let Ok(mut g) = fake.gauge.lock() {
            g.total += 1;
            g.max_total = g.max_total.max(g.total);
            let n = g.by_node.entry(node.to_owned()).or_default();
            *n += 1;
            let n = *n;
            g.max_node = g.max_node.max(n);
        }
        Running(fake, node.to_owned())
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if let Ok(mut g) = self.0.gauge.lock() {
            g.total = g.total.saturating_sub(1);
            if let Some(n) = g.by_node.get_mut(&self.1) {
                *n = n.saturating_sub(1);
            }
        }
    }
}

impl FakeExecutor {
    /// An executor that succeeds at everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a rule: for `node` (any when `None`) and commands containing
    /// `command` (any when `None`), reply with `reply`.
    pub fn when(self, node: Option<&str>, command: Option<&str>, reply: FakeReply) -> Self {
        if let Ok(mut r) = self.rules.lock() {
            r.push((node.map(Into::into), command.map(Into::into), reply));
        }
        self
    }

    /// `(node, command)` of every request, in the order they arrived.
    pub fn calls(&self) -> Vec<(String, String)> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// The most requests it was running at once, over all nodes.
    pub fn max_concurrent(&self) -> usize {
        self.gauge.lock().map(|g| g.max_total).unwrap_or_default()
    }

    /// The most requests it was running at once on any one node.
    pub fn max_concurrent_per_node(&self) -> usize {
        self.gauge.lock().map(|g| g.max_node).unwrap_or_default()
    }
}

fn command_text(c: &NodeCommand) -> String {
    match c {
        NodeCommand::Shell(s) => s.clone(),
        NodeCommand::Script { content, .. } => String::from_utf8_lossy(content).into_owned(),
    }
}

#[async_trait]
impl Executor for FakeExecutor {
    async fn run(
        &self,
        req: NodeRequest,
        out: OutputSink,
        abort: CancellationToken,
    ) -> Result<NodeOutcome> {
        let _running = Running::start(self, &req.node.name);
        let text = command_text(&req.command);
        self.calls
            .lock()
            .map_err(|_| Error::Store("fake executor lock poisoned".into()))?
            .push((req.node.name.clone(), text.clone()));
        let reply = self
            .rules
            .lock()
            .map_err(|_| Error::Store("fake executor lock poisoned".into()))?
            .iter()
            .find(|(n, c, _)| {
                n.as_ref().is_none_or(|n| n == &req.node.name)
                    && c.as_ref().is_none_or(|c| text.contains(c.as_str()))
            })
            .map(|(_, _, r)| r.clone())
            .unwrap_or_default();
        for l in &reply.stdout {
            out.line(Stream::Stdout, l.clone()).await;
        }
        for l in &reply.stderr {
            out.line(Stream::Stderr, l.clone()).await;
        }
        if let Some(d) = reply.delay {
            let limit = req.timeout.unwrap_or(Duration::MAX);
            tokio::select! {
                _ = tokio::time::sleep(d.min(limit)) => {
                    if d > limit {
                        return Ok(NodeOutcome { timed_out: true, ..NodeOutcome::default() });
                    }
                }
                _ = abort.cancelled() => {
                    return Ok(NodeOutcome { aborted: true, ..NodeOutcome::default() });
                }
            }
        }
        Ok(NodeOutcome::exit(reply.exit))
    }
}

/// A notifier that records every trigger it receives.
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    seen: Mutex<Vec<(NotificationTrigger, String, u64)>>,
}

impl RecordingNotifier {
    /// `(trigger, job name, execution id)` in order.
    pub fn seen(&self) -> Vec<(NotificationTrigger, String, u64)> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn notify(
        &self,
        trigger: NotificationTrigger,
        job: &Job,
        execution: &Execution,
    ) -> Result<()> {
        self.seen
            .lock()
            .map_err(|_| Error::Store("notifier lock poisoned".into()))?
            .push((trigger, job.name.clone(), execution.id));
        Ok(())
    }
}

/// (project, job uuid) -> next fire time.
type Schedules = BTreeMap<(String, String), Option<DateTime<Utc>>>;

/// A scheduler that records what it was asked and computes nothing.
#[derive(Debug, Default)]
pub struct RecordingScheduler {
    scheduled: Mutex<Schedules>,
    run_at: Mutex<Vec<(RunRequest, DateTime<Utc>)>>,
}

impl RecordingScheduler {
    /// `(project, job uuid)` of scheduled jobs.
    pub fn scheduled(&self) -> Vec<(String, String)> {
        self.scheduled
            .lock()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// One-off runs asked for.
    pub fn run_at_requests(&self) -> Vec<(RunRequest, DateTime<Utc>)> {
        self.run_at.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Scheduler for RecordingScheduler {
    async fn schedule_job(&self, project: &str, job: &Job) -> Result<Option<DateTime<Utc>>> {
        let id = job.uuid.clone().ok_or_else(|| Error::InvalidJob {
            job: job.name.clone(),
            field: "uuid".into(),
            message: "a scheduled job needs a uuid".into(),
        })?;
        self.scheduled
            .lock()
            .map_err(|_| Error::Store("scheduler lock poisoned".into()))?
            .insert((project.into(), id), None);
        Ok(None)
    }

    async fn unschedule_job(&self, project: &str, job_id: &str) -> Result<()> {
        self.scheduled
            .lock()
            .map_err(|_| Error::Store("scheduler lock poisoned".into()))?
            .remove(&(project.into(), job_id.into()));
        Ok(())
    }

    /// Records the request; answers with a `scheduled` execution (stored
    /// nowhere) numbered by the requests so far.
    async fn run_at(&self, request: RunRequest, at: DateTime<Utc>) -> Result<Execution> {
        let mut runs = self
            .run_at
            .lock()
            .map_err(|_| Error::Store("scheduler lock poisoned".into()))?;
        let mut e = Execution::new(request.project.clone(), "", request.user.clone());
        e.job_id = Some(request.job_id.clone());
        e.status = crate::model::ExecutionStatus::Scheduled;
        e.date_started = at;
        runs.push((request, at));
        e.id = u64::try_from(runs.len()).unwrap_or(u64::MAX);
        Ok(e)
    }

    async fn next_fire_time(&self, project: &str, job_id: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .scheduled
            .lock()
            .map_err(|_| Error::Store("scheduler lock poisoned".into()))?
            .get(&(project.into(), job_id.into()))
            .copied()
            .flatten())
    }
}

/// An authorizer with a fixed answer, optionally per action.
#[derive(Debug, Clone)]
pub struct StaticAuthorizer {
    default: bool,
    overrides: BTreeMap<String, bool>,
}

impl StaticAuthorizer {
    /// Allows everything.
    pub fn allow_all() -> Self {
        StaticAuthorizer {
            default: true,
            overrides: BTreeMap::new(),
        }
    }

    /// Allows nothing.
    pub fn deny_all() -> Self {
        StaticAuthorizer {
            default: false,
            overrides: BTreeMap::new(),
        }
    }

    /// Overrides the answer for one action.
    pub fn with_action(mut self, action: &str, allow: bool) -> Self {
        self.overrides.insert(action.into(), allow);
        self
    }
}

impl Authorizer for StaticAuthorizer {
    fn decide(&self, _s: &Subject, action: &str, _r: &Resource, _c: &AuthContext) -> Decision {
        if *self.overrides.get(action).unwrap_or(&self.default) {
            Decision::Allow
        } else {
            Decision::Deny(format!("static policy denies {action}"))
        }
    }
}
