//! Webhook delivery: one POST (or GET) per URL, retried with back-off.

use super::payload::expand;
use super::WebhookPolicy;
use foredeck_core::model::Notification;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(super) enum Body {
    Json(serde_json::Value),
    Xml(String),
}

pub(super) struct Webhook {
    pub(super) http: reqwest::Client,
    pub(super) policy: WebhookPolicy,
    pub(super) url: reqwest::Url,
    pub(super) get: bool,
    pub(super) body: Arc<Body>,
    pub(super) execution: u64,
    pub(super) trigger: &'static str,
}

impl Webhook {
    pub(super) async fn deliver(self) -> std::result::Result<(), String> {
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
pub(super) fn shown_url(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

pub(super) fn webhook_urls(
    n: &Notification,
    props: &BTreeMap<&'static str, String>,
) -> (Vec<reqwest::Url>, Vec<String>) {
    let Some(urls) = &n.urls else {
        return (Vec::new(), Vec::new());
    };
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for u in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        match reqwest::Url::parse(&expand(u, props, true)) {
            Ok(url) => match crate::outbound::check(&url) {
                Ok(()) => good.push(url),
                Err(e) => bad.push(format!("url {u:?} ({}): {e}", shown_url(&url))),
            },
            Err(e) => bad.push(format!("url {u:?} is not a URL: {e}")),
        }
    }
    (good, bad)
}
