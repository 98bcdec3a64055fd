//! Built-in notifications: webhooks (HTTP POST of the execution as JSON or
//! XML) and email over SMTP, as a job's `notification` section asks for
//! them (Rundeck's `onstart`, `onsuccess`, `onfailure`, `onretryablefailure`
//! and `onavgduration` with `urls`, `format`, `httpMethod` and `email`).
//!
//! [`StandardNotifier`] never holds up an execution: each delivery runs as a
//! task of its own, at most [`NotifyConfig::max_in_flight`] at once, and
//! [`StandardNotifier::flush`] waits for those under way (a server calls it
//! when it shuts down). A webhook is retried with doubling back-off on
//! connection errors, timeouts, 429 and 5xx answers, within a bounded time;
//! other answers are final. Failures are logged, never fatal to a run.
//!
//! Webhooks follow the address policy of `run/url`
//! ([`foredeck_http::outbound`]): only http(s), never link-local (cloud
//! metadata), unspecified, multicast or broadcast addresses, whether the URL
//! names them or its host resolves to them, and no proxy from the
//! environment; redirects are not followed.
//!
//! Webhook URLs and email subjects may use Rundeck's property tokens:
//! `${execution.id}`, `${execution.status}`, `${execution.user}`,
//! `${execution.project}`, `${execution.argstring}`, `${execution.href}`,
//! `${job.id}`, `${job.name}`, `${job.group}`, `${job.project}`,
//! `${job.href}`, `${notification.trigger}` and
//! `${notification.eventStatus}` (in URLs the values are percent-encoded).

use crate::model::{Execution, Job, Notification, Notifications};
use crate::{Error, NotificationTrigger, Notifier, Result, Store};
use async_trait::async_trait;
use chrono::SecondsFormat;
use lettre::message::{header::ContentType, Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// How webhooks are delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookPolicy {
    /// Attempts per URL, the first included.
    pub attempts: u32,
    /// Wait before the first retry; doubled before each further one.
    pub backoff: Duration,
    /// Bound on one request (connect, send, answer).
    pub request_timeout: Duration,
    /// Bound on all attempts for one URL together.
    pub deadline: Duration,
}

impl Default for WebhookPolicy {
    fn default() -> Self {
        WebhookPolicy {
            attempts: 4,
            backoff: Duration::from_secs(1),
            request_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(60),
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain SMTP (a relay on the same host or network).
    None,
    /// Plain connection upgraded with STARTTLS, which must succeed.
    #[default]
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// Where email notifications are sent from.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// Server host name.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Transport security.
    pub security: SmtpSecurity,
    /// Login, when the server asks for one.
    pub username: Option<String>,
    /// Password for `username`.
    pub password: Option<String>,
    /// Sender address (`Foredeck <foredeck@example.com>`).
    pub from: String,
    /// Bound on one message's delivery.
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .finish()
    }
}

/// What the notifier needs to know.
#[derive(Clone, Debug)]
pub struct NotifyConfig {
    /// The server's base URL for links (`http://rundeck.example.com:4440`).
    pub server_url: String,
    /// Webhook delivery.
    pub webhook: WebhookPolicy,
    /// Email; without it email notifications fail with a clear error.
    pub smtp: Option<SmtpConfig>,
    /// Deliveries under way at once; more wait for a turn.
    pub max_in_flight: usize,
    /// Largest log attached to an email (`attachLog`), in bytes.
    pub max_attachment: usize,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            server_url: "http://127.0.0.1:4440".into(),
            webhook: WebhookPolicy::default(),
            smtp: None,
            max_in_flight: 32,
            max_attachment: 10 << 20,
        }
    }
}

/// Sends webhook and email notifications; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct StandardNotifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: NotifyConfig,
    http: reqwest::Client,
    store: Option<Arc<dyn Store>>,
    slots: Arc<Semaphore>,
    /// Deliveries started and not yet ended.
    pending: Arc<AtomicUsize>,
    /// Woken when `pending` drops to zero.
    idle: Arc<Notify>,
}

impl StandardNotifier {
    /// A notifier; `store` lets emails attach the execution's log.
    pub fn new(config: NotifyConfig, store: Option<Arc<dyn Store>>) -> Result<Self> {
        // the address policy of run/url: names resolved to checked
        // addresses only, connected to as resolved; no proxy
        let resolver = foredeck_http::outbound::CheckedResolver::system();
        let http = foredeck_http::outbound::client_builder(resolver)
            .timeout(config.webhook.request_timeout)
            .connect_timeout(config.webhook.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("foredeck/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::io("webhook client", std::io::Error::other(e)))?;
        let slots = Arc::new(Semaphore::new(config.max_in_flight.max(1)));
        Ok(StandardNotifier {
            inner: Arc::new(Inner {
                config,
                http,
                store,
                slots,
                pending: Arc::new(AtomicUsize::new(0)),
                idle: Arc::new(Notify::new()),
            }),
        })
    }

    /// Waits until every delivery started so far has ended.
    pub async fn flush(&self) {
        loop {
            let idle = self.inner.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.inner.pending.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }

    fn spawn<F>(&self, what: String, execution: u64, delivery: F)
    where
        F: std::future::Future<Output = std::result::Result<(), String>> + Send + 'static,
    {
        let (slots, pending, idle) = (
            self.inner.slots.clone(),
            self.inner.pending.clone(),
            self.inner.idle.clone(),
        );
        // counted before the task runs, so a flush right after sees it
        pending.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(async move {
            if let Ok(_slot) = slots.acquire_owned().await {
                match delivery.await {
                    Ok(()) => tracing::debug!(execution, "{what} delivered"),
                    Err(e) => tracing::warn!(execution, "{what} failed: {e}"),
                }
            }
            if pending.fetch_sub(1, Ordering::AcqRel) == 1 {
                idle.notify_waiters();
            }
        });
    }
}

fn for_trigger(n: &Notifications, t: NotificationTrigger) -> Option<&Notification> {
    match t {
        NotificationTrigger::Start => n.onstart.as_ref(),
        NotificationTrigger::Success => n.onsuccess.as_ref(),
        NotificationTrigger::Failure => n.onfailure.as_ref(),
        NotificationTrigger::RetryableFailure => n.onretryablefailure.as_ref(),
        NotificationTrigger::AvgDuration => n.onavgduration.as_ref(),
    }
}

/// Rundeck's trigger name in payloads (`start`, `success`, ...).
fn trigger_name(t: NotificationTrigger) -> &'static str {
    match t {
        NotificationTrigger::Start => "start",
        NotificationTrigger::Success => "success",
        NotificationTrigger::Failure => "failure",
        NotificationTrigger::RetryableFailure => "retryablefailure",
        NotificationTrigger::AvgDuration => "avgduration",
    }
}

/// Rundeck's `notification.eventStatus`.
fn event_status(t: NotificationTrigger) -> &'static str {
    match t {
        NotificationTrigger::Start => "Starting",
        NotificationTrigger::Success => "Succeeded",
        NotificationTrigger::Failure => "Failed",
        NotificationTrigger::RetryableFailure => "Failed (will retry)",
        NotificationTrigger::AvgDuration => "Running longer than average",
    }
}

/// The values property tokens refer to.
fn properties(
    base: &str,
    t: NotificationTrigger,
    job: &Job,
    e: &Execution,
) -> BTreeMap<&'static str, String> {
    let base = base.trim_end_matches('/');
    let job_id = job.uuid.clone().or(e.job_id.clone()).unwrap_or_default();
    BTreeMap::from([
        ("execution.id", e.id.to_string()),
        ("execution.status", e.status.to_string()),
        ("execution.user", e.user.clone()),
        ("execution.project", e.project.clone()),
        ("execution.argstring", e.arg_string.clone()),
        (
            "execution.href",
            format!("{base}/project/{}/execution/show/{}", e.project, e.id),
        ),
        ("job.id", job_id.clone()),
        ("job.name", job.name.clone()),
        ("job.group", job.group.clone().unwrap_or_default()),
        ("job.project", e.project.clone()),
        (
            "job.href",
            format!("{base}/project/{}/job/show/{job_id}", e.project),
        ),
        ("notification.trigger", trigger_name(t).to_owned()),
        ("notification.eventStatus", event_status(t).to_owned()),
    ])
}

/// Replaces `${name}` tokens; unknown tokens stay as written.
fn expand(template: &str, props: &BTreeMap<&'static str, String>, encode: bool) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if props.contains_key(&after[..end]) => {
                let v = &props[&after[..end]];
                if encode {
                    out.push_str(&percent_encode(v));
                } else {
                    out.push_str(v);
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The execution as a webhook sends it (Rundeck's JSON notification shape).
fn json_payload(
    t: NotificationTrigger,
    job: &Job,
    e: &Execution,
    props: &BTreeMap<&'static str, String>,
) -> serde_json::Value {
    let w3c = |d: chrono::DateTime<chrono::Utc>| d.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut exec = serde_json::json!({
        "id": e.id,
        "href": props["execution.href"],
        "status": e.status.to_string(),
        "user": e.user,
        "dateStarted": w3c(e.date_started),
        "dateStartedUnixtime": e.date_started.timestamp_millis(),
        "dateStartedW3c": w3c(e.date_started),
        "description": e.description,
        "argstring": e.arg_string,
        "project": e.project,
        "loglevel": e.loglevel,
        "job": {
            "id": props["job.id"],
            "href": props["job.href"],
            "name": job.name,
            "group": job.group.clone().unwrap_or_default(),
            "project": e.project,
            "description": job.description,
        },
    });
    if let (Some(end), Some(obj)) = (e.date_ended, exec.as_object_mut()) {
        obj.insert("dateEnded".into(), w3c(end).into());
        obj.insert("dateEndedUnixtime".into(), end.timestamp_millis().into());
        obj.insert("dateEndedW3c".into(), w3c(end).into());
    }
    if let (Some(f), Some(obj)) = (&e.failure, exec.as_object_mut()) {
        obj.insert("failure".into(), f.clone().into());
    }
    serde_json::json!({ "trigger": trigger_name(t), "execution": exec })
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // characters XML 1.0 cannot carry at all
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Rundeck's XML notification: `<notification>` around the execution.
fn xml_payload(
    t: NotificationTrigger,
    job: &Job,
    e: &Execution,
    props: &BTreeMap<&'static str, String>,
) -> String {
    let x = |s: &str| xml_escape(s);
    let w3c = |d: chrono::DateTime<chrono::Utc>| d.to_rfc3339_opts(SecondsFormat::Secs, true);
    let ended = e
        .date_ended
        .map(|d| {
            format!(
                "<date-ended unixtime=\"{}\">{}</date-ended>",
                d.timestamp_millis(),
                w3c(d)
            )
        })
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <notification trigger=\"{trigger}\" executionId=\"{id}\" status=\"{status}\">\
         <executions count=\"1\"><execution id=\"{id}\" href=\"{href}\" status=\"{status}\" project=\"{project}\">\
         <user>{user}</user><date-started unixtime=\"{started_ms}\">{started}</date-started>{ended}\
         <job id=\"{job_id}\" href=\"{job_href}\"><name>{name}</name><group>{group}</group>\
         <project>{project}</project><description>{job_desc}</description></job>\
         <description>{desc}</description><argstring>{args}</argstring>\
         </execution></executions></notification>\n",
        trigger = trigger_name(t),
        id = e.id,
        status = x(&e.status.to_string()),
        href = x(&props["execution.href"]),
        project = x(&e.project),
        user = x(&e.user),
        started_ms = e.date_started.timestamp_millis(),
        started = w3c(e.date_started),
        job_id = x(&props["job.id"]),
        job_href = x(&props["job.href"]),
        name = x(&job.name),
        group = x(job.group.as_deref().unwrap_or("")),
        job_desc = x(&job.description),
        desc = x(&e.description),
        args = x(&e.arg_string),
    )
}

enum Body {
    Json(serde_json::Value),
    Xml(String),
}

struct Webhook {
    http: reqwest::Client,
    policy: WebhookPolicy,
    url: reqwest::Url,
    get: bool,
    body: Arc<Body>,
    execution: u64,
    trigger: &'static str,
}

impl Webhook {
    async fn deliver(self) -> std::result::Result<(), String> {
        let deadline = tokio::time::Instant::now() + self.policy.deadline;
        let mut wait = self.policy.backoff;
        let mut attempt = 1;
        loop {
            let outcome = tokio::time::timeout_at(deadline, self.once()).await;
            let (retry, why) = match outcome {
                Err(_) => return Err(format!("gave up after {:?}", self.policy.deadline)),
                Ok(Ok(status)) if status.is_success() => return Ok(()),
                Ok(Ok(status)) => {
                    let retry = status.is_server_error()
                        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                        || status == reqwest::StatusCode::REQUEST_TIMEOUT;
                    (retry, format!("answered {status}"))
                }
                Ok(Err(e)) => (true, e),
            };
            if !retry || attempt >= self.policy.attempts {
                return Err(format!(
                    "{why} (attempt {attempt} of {})",
                    self.policy.attempts
                ));
            }
            if tokio::time::Instant::now() + wait >= deadline {
                return Err(format!(
                    "{why}; no time left for another attempt within {:?}",
                    self.policy.deadline
                ));
            }
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
            attempt += 1;
        }
    }

    async fn once(&self) -> std::result::Result<reqwest::StatusCode, String> {
        let req = if self.get {
            self.http.get(self.url.clone())
        } else {
            let req = self.http.post(self.url.clone());
            match &*self.body {
                Body::Json(v) => req.json(v),
                Body::Xml(x) => req
                    .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=utf-8")
                    .body(x.clone()),
            }
        };
        let resp = req
            .header("X-Rundeck-Notification-Execution-Id", self.execution)
            .header("X-Rundeck-Notification-Trigger", self.trigger)
            .send()
            .await
            .map_err(|e| {
                // reqwest's message names neither the cause nor the URL's
                // credentials; walk the chain for the cause
                let e = e.without_url();
                let mut msg = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    msg.push_str(": ");
                    msg.push_str(&s.to_string());
                    src = s.source();
                }
                msg
            })?;
        Ok(resp.status())
    }
}

/// The address of a webhook with any `user:password@` removed, for logs.
fn shown_url(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

fn webhook_urls(
    n: &Notification,
    props: &BTreeMap<&'static str, String>,
) -> (Vec<reqwest::Url>, Vec<String>) {
    let Some(urls) = &n.urls else {
        return (Vec::new(), Vec::new());
    };
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for u in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        match reqwest::Url::parse(&expand(u, props, true)) {
            Ok(url) => match foredeck_http::outbound::check(&url) {
                Ok(()) => good.push(url),
                Err(e) => bad.push(format!("url {u:?} ({}): {e}", shown_url(&url))),
            },
            Err(e) => bad.push(format!("url {u:?} is not a URL: {e}")),
        }
    }
    (good, bad)
}

impl Inner {
    async fn email(
        &self,
        to: Vec<Mailbox>,
        subject: String,
        body: String,
        attach: Option<(u64, String)>,
    ) -> std::result::Result<(), String> {
        let smtp = self
            .config
            .smtp
            .as_ref()
            .ok_or("no SMTP server is configured")?;
        let from: Mailbox = smtp
            .from
            .parse()
            .map_err(|e| format!("sender {:?}: {e}", smtp.from))?;
        let mut msg = Message::builder().from(from).subject(subject);
        for m in to {
            msg = msg.to(m);
        }
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(body);
        let message = match attach {
            None => msg.singlepart(text),
            Some((id, log)) => msg.multipart(MultiPart::mixed().singlepart(text).singlepart(
                Attachment::new(format!("execution-{id}.log")).body(log, ContentType::TEXT_PLAIN),
            )),
        }
        .map_err(|e| format!("building the message: {e}"))?;
        let builder = match smtp.security {
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            }
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                    .map_err(|e| format!("SMTP server {}: {e}", smtp.host))?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
                .map_err(|e| format!("SMTP server {}: {e}", smtp.host))?,
        };
        let mut builder = builder.port(smtp.port).timeout(Some(smtp.timeout));
        if let (Some(u), Some(p)) = (&smtp.username, &smtp.password) {
            builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
        }
        let transport = builder.build();
        tokio::time::timeout(smtp.timeout, transport.send(message))
            .await
            .map_err(|_| format!("SMTP server {} timed out", smtp.host))?
            .map_err(|e| format!("SMTP server {}:{}: {e}", smtp.host, smtp.port))?;
        Ok(())
    }

    /// The execution's log as text, cut at the attachment limit.
    async fn log_text(&self, id: u64) -> Option<String> {
        let store = self.store.as_ref()?;
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let page = store.read_log(id, offset, 2048).await.ok()?;
            if page.events.is_empty() {
                break;
            }
            for ev in &page.events {
                if let Some(node) = &ev.node {
                    out.extend_from_slice(node.as_bytes());
                    out.extend_from_slice(b": ");
                }
                out.extend_from_slice(ev.bytes());
                out.push(b'\n');
            }
            if out.len() > self.config.max_attachment {
                out.truncate(self.config.max_attachment);
                out.extend_from_slice(b"\n[log cut at the attachment limit]\n");
                break;
            }
            offset = page.next_offset;
        }
        Some(String::from_utf8_lossy(&out).into_owned())
    }
}

fn email_body(t: NotificationTrigger, job: &Job, e: &Execution, href: &str) -> String {
    let mut body = format!(
        "{status}: {name} (execution #{id}) in project {project}\n\n\
         Status:  {exec_status}\nUser:    {user}\nStarted: {started}\n",
        status = event_status(t),
        name = job.full_name(),
        id = e.id,
        project = e.project,
        exec_status = e.status,
        user = e.user,
        started = e.date_started.to_rfc3339_opts(SecondsFormat::Secs, true),
    );
    if let Some(end) = e.date_ended {
        body.push_str(&format!(
            "Ended:   {}\n",
            end.to_rfc3339_opts(SecondsFormat::Secs, true)
        ));
    }
    if !e.arg_string.is_empty() {
        body.push_str(&format!("Options: {}\n", e.arg_string));
    }
    if let Some(f) = &e.failure {
        body.push_str(&format!("Failure: {f}\n"));
    }
    body.push_str(&format!("\n{href}\n"));
    body
}

/// Rundeck's default subject.
const DEFAULT_SUBJECT: &str =
    "${notification.eventStatus} [${job.project}] ${job.group}/${job.name} ${execution.argstring}";

#[async_trait]
impl Notifier for StandardNotifier {
    async fn flush(&self) {
        StandardNotifier::flush(self).await
    }

    async fn notify(
        &self,
        trigger: NotificationTrigger,
        job: &Job,
        execution: &Execution,
    ) -> Result<()> {
        let Some(n) = job
            .notification
            .as_ref()
            .and_then(|n| for_trigger(n, trigger))
        else {
            return Ok(());
        };
        let inner = &self.inner;
        let props = properties(&inner.config.server_url, trigger, job, execution);
        let (urls, bad_urls) = webhook_urls(n, &props);
        let mut problems = bad_urls;
        if !urls.is_empty() {
            let xml = n
                .format
                .as_deref()
                .is_some_and(|f| f.eq_ignore_ascii_case("xml"));
            let body = Arc::new(if xml {
                Body::Xml(xml_payload(trigger, job, execution, &props))
            } else {
                Body::Json(json_payload(trigger, job, execution, &props))
            });
            let get = n
                .http_method
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case("get"));
            for url in urls {
                let what = format!("webhook {} to {}", trigger.as_str(), shown_url(&url));
                let hook = Webhook {
                    http: inner.http.clone(),
                    policy: inner.config.webhook.clone(),
                    url,
                    get,
                    body: body.clone(),
                    execution: execution.id,
                    trigger: trigger_name(trigger),
                };
                self.spawn(what, execution.id, hook.deliver());
            }
        }
        if let Some(email) = &n.email {
            let mut to = Vec::new();
            for r in email.recipients.split(',').map(str::trim) {
                if r.is_empty() {
                    continue;
                }
                match r.parse::<Mailbox>() {
                    Ok(m) => to.push(m),
                    Err(e) => problems.push(format!("email recipient {r:?}: {e}")),
                }
            }
            if to.is_empty() && problems.is_empty() {
                problems.push("email notification without recipients".into());
            }
            if !to.is_empty() {
                let subject = expand(
                    email.subject.as_deref().unwrap_or(DEFAULT_SUBJECT),
                    &props,
                    false,
                );
                let body = email_body(trigger, job, execution, &props["execution.href"]);
                let me = self.inner.clone();
                let (id, attach) = (execution.id, email.attach_log);
                let what = format!("email {} to {}", trigger.as_str(), email.recipients);
                self.spawn(what, id, async move {
                    let log = if attach {
                        me.log_text(id).await.map(|l| (id, l))
                    } else {
                        None
                    };
                    me.email(to, subject, body, log).await
                });
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidJob {
                job: job.full_name(),
                field: format!("notification.{}", trigger.as_str()),
                message: problems.join("; "),
            })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn props() -> BTreeMap<&'static str, String> {
        let job = Job::new("deploy app", crate::Workflow::default());
        let mut e = Execution::new("ops", job.full_name(), "alice");
        e.id = 7;
        e.arg_string = "-env prod & more".into();
        properties("http://fd:4440/", NotificationTrigger::Success, &job, &e)
    }

    #[test]
    fn tokens_expand_and_encode_in_urls() {
        let p = props();
        assert_eq!(
            expand(
                "https://h/x?id=${execution.id}&job=${job.name}&a=${execution.argstring}",
                &p,
                true
            ),
            "https://h/x?id=7&job=deploy%20app&a=-env%20prod%20%26%20more"
        );
        assert_eq!(
            expand(
                "${notification.eventStatus}: ${job.name} ${unknown} ${",
                &p,
                false
            ),
            "Succeeded: deploy app ${unknown} ${"
        );
        assert_eq!(
            p["execution.href"],
            "http://fd:4440/project/ops/execution/show/7"
        );
    }

    #[test]
    fn xml_is_escaped() {
        assert_eq!(
            xml_escape("<a href=\"x\">&'\u{1}"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;\u{fffd}"
        );
    }

    #[test]
    fn bad_urls_are_named() {
        let n = Notification {
            urls: Some("http://ok/, ftp://x/, not a url".into()),
            ..Notification::default()
        };
        let (good, bad) = webhook_urls(&n, &props());
        assert_eq!(good.len(), 1);
        assert_eq!(bad.len(), 2);
        assert!(bad[0].contains("ftp://x/"), "{bad:?}");
        assert!(bad[1].contains("not a url"), "{bad:?}");
    }
}
