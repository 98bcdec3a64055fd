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
//! ([`crate::outbound`]): only http(s), never link-local (cloud
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

mod config;
mod email;
mod payload;
mod webhook;

pub use config::{NotifyConfig, SmtpConfig, SmtpSecurity, WebhookPolicy};

use async_trait::async_trait;
use email::{email_body, DEFAULT_SUBJECT};
use foredeck_core::model::{Execution, Job, Notification};
use foredeck_core::{Error, NotificationTrigger, Notifier, Result, Store};
use lettre::message::Mailbox;
use payload::{expand, for_trigger, json_payload, properties, trigger_name, xml_payload};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{Notify, Semaphore};
use webhook::{shown_url, webhook_urls, Body, Webhook};

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
        let resolver = crate::outbound::CheckedResolver::system();
        let http = crate::outbound::client_builder(resolver)
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

impl StandardNotifier {
    /// Starts the deliveries of one notification of a trigger; what cannot
    /// be sent is added to `problems`.
    fn send(
        &self,
        trigger: NotificationTrigger,
        job: &Job,
        execution: &Execution,
        props: &BTreeMap<&'static str, String>,
        n: &Notification,
        problems: &mut Vec<String>,
    ) {
        let inner = &self.inner;
        let (urls, bad_urls) = webhook_urls(n, props);
        problems.extend(bad_urls);
        if !urls.is_empty() {
            let xml = n
                .format
                .as_deref()
                .is_some_and(|f| f.eq_ignore_ascii_case("xml"));
            let body = Arc::new(if xml {
                Body::Xml(xml_payload(trigger, job, execution, props))
            } else {
                Body::Json(json_payload(trigger, job, execution, props))
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
            let before = problems.len();
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
            if to.is_empty() && problems.len() == before {
                problems.push("email notification without recipients".into());
            }
            if !to.is_empty() {
                let subject = expand(
                    email.subject.as_deref().unwrap_or(DEFAULT_SUBJECT),
                    props,
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
    }
}

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
        let Some(set) = job
            .notification
            .as_ref()
            .and_then(|n| for_trigger(n, trigger))
        else {
            return Ok(());
        };
        let props = properties(&self.inner.config.server_url, trigger, job, execution);
        let mut problems = Vec::new();
        for n in set.iter() {
            self.send(trigger, job, execution, &props, n, &mut problems);
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
    use super::payload::{expand, properties, xml_escape};
    use super::webhook::webhook_urls;
    use foredeck_core::model::{Execution, Job, Notification};
    use foredeck_core::NotificationTrigger;
    use std::collections::BTreeMap;
    fn props() -> BTreeMap<&'static str, String> {
        let job = Job::new("deploy app", foredeck_core::Workflow::default());
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
