//! What a job must be to be saved, beyond its format: a schedule the
//! scheduler can keep, and notification webhooks the server may call.

use crate::cron::CronSchedule;
use crate::model::Job;
use crate::net::check_outbound;
use crate::schedule::TriggerSpec;

/// Checks what storing a job would start: its schedule (pattern, zone, a
/// future fire time) and scheduler policies.
pub fn check_schedule(job: &Job) -> Result<(), String> {
    TriggerSpec::for_job(job, "import").map_err(|e| e.to_string())?;
    if let Some(s) = &job.schedule {
        let zone = job
            .time_zone
            .as_deref()
            .map(str::trim)
            .filter(|z| !z.is_empty());
        CronSchedule::from_schedule(s, zone).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `u` with each `${...}` property token replaced by `x`: what can be
/// judged of a URL before its tokens are known.
fn without_tokens(u: &str) -> String {
    let mut out = String::with_capacity(u.len());
    let mut rest = u;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push('x');
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

/// Checks a job's notification webhook URLs when the job is saved, where
/// it is cheap: the scheme must be http(s) and a host that is an address
/// literal must be allowed ([`check_outbound`]; property tokens count as
/// plain text). Host names are judged when the notification is sent (they
/// may resolve differently by then), and so is every URL again after its
/// tokens are expanded.
pub fn check_notification_urls(job: &Job) -> Result<(), String> {
    let Some(n) = &job.notification else {
        return Ok(());
    };
    let triggers = [
        ("onstart", &n.onstart),
        ("onsuccess", &n.onsuccess),
        ("onfailure", &n.onfailure),
        ("onretryablefailure", &n.onretryablefailure),
        ("onavgduration", &n.onavgduration),
    ];
    let each = triggers
        .into_iter()
        .flat_map(|(name, set)| set.iter().flat_map(|s| s.iter()).map(move |n| (name, n)));
    for (name, notification) in each {
        let Some(urls) = notification.urls.as_deref() else {
            continue;
        };
        for u in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
            // an unparsable URL is reported when sending, as before
            if let Ok(url) = url::Url::parse(&without_tokens(u)) {
                check_outbound(url.scheme(), url.host_str().unwrap_or(""))
                    .map_err(|e| format!("notification.{name}: url {u:?}: {e}"))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{Notification, NotificationSet, Notifications, Workflow};

    fn hooked(urls: &str) -> Job {
        let mut job = Job::new("j", Workflow::default());
        job.notification = Some(Notifications {
            onfailure: Some(NotificationSet::One(Notification {
                urls: Some(urls.into()),
                ..Notification::default()
            })),
            ..Notifications::default()
        });
        job
    }

    #[test]
    fn notification_urls() {
        assert!(check_notification_urls(&hooked("https://hooks.example.com/x")).is_ok());
        assert!(check_notification_urls(&hooked("http://${option.host}:8080/x")).is_ok());
        let e = check_notification_urls(&hooked("http://a.example, http://169.254.169.254/"))
            .unwrap_err();
        assert!(
            e.starts_with("notification.onfailure: url \"http://169.254.169.254/\""),
            "{e}"
        );
        // an address written in hex is judged as the address it is
        assert!(check_notification_urls(&hooked("http://0xa9.254.169.254/")).is_err());
        assert!(check_notification_urls(&hooked("file:///etc/passwd")).is_err());
    }

    #[test]
    fn tokens_count_as_plain_text() {
        assert_eq!(without_tokens("http://${a}/b/${c.d}"), "http://x/b/x");
        assert_eq!(without_tokens("http://h/${open"), "http://h/${open");
    }
}
