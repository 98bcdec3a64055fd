//! The notifier's settings: webhook delivery policy and the SMTP server.

use std::time::Duration;

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
