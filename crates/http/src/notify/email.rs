//! Email delivery over SMTP, with the execution's log attached on request.

use super::payload::event_status;
use super::{Inner, SmtpSecurity};
use chrono::SecondsFormat;
use foredeck_core::model::{Execution, Job};
use foredeck_core::NotificationTrigger;
use lettre::message::{header::ContentType, Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

impl Inner {
    pub(super) async fn email(
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
    pub(super) async fn log_text(&self, id: u64) -> Option<String> {
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

pub(super) fn email_body(t: NotificationTrigger, job: &Job, e: &Execution, href: &str) -> String {
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
pub(super) const DEFAULT_SUBJECT: &str =
    "${notification.eventStatus} [${job.project}] ${job.group}/${job.name} ${execution.argstring}";
