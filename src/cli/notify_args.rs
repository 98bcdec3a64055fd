//! `foredeck serve` settings for notifications: where links point and
//! which SMTP server sends email.

use clap::{Args, ValueEnum};
use foredeck::notify::{NotifyConfig, SmtpConfig, SmtpSecurity, StandardNotifier};
use foredeck::Store;
use std::sync::Arc;
use std::time::Duration;

/// The names are the same on the command line and in the configuration file.
#[derive(Debug, Clone, Copy, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain SMTP (a local relay).
    None,
    /// STARTTLS, required.
    Starttls,
    /// TLS from the start (port 465).
    Tls,
}

#[derive(Debug, Clone, Args)]
pub struct NotifyArgs {
    /// Base URL of this server in notification links (default: http://BIND:PORT).
    #[arg(long, env = "FOREDECK_SERVER_URL")]
    pub(super) server_url: Option<String>,
    /// SMTP server for email notifications (none: email notifications fail with a clear error).
    #[arg(long, env = "FOREDECK_SMTP_HOST")]
    pub(super) smtp_host: Option<String>,
    /// SMTP port (default: 25 plain, 587 STARTTLS, 465 TLS).
    #[arg(long, env = "FOREDECK_SMTP_PORT")]
    pub(super) smtp_port: Option<u16>,
    /// SMTP transport security.
    #[arg(long, env = "FOREDECK_SMTP_SECURITY", value_enum, default_value_t = Security::Starttls)]
    pub(super) smtp_security: Security,
    /// SMTP login; the password comes from FOREDECK_SMTP_PASSWORD only, never a flag.
    #[arg(long, env = "FOREDECK_SMTP_USER")]
    pub(super) smtp_user: Option<String>,
    /// Sender of notification emails.
    #[arg(
        long,
        env = "FOREDECK_SMTP_FROM",
        default_value = "Foredeck <foredeck@localhost>"
    )]
    pub(super) smtp_from: String,
}

impl NotifyArgs {
    /// The notifier `serve` gives its engine.
    pub fn notifier(
        &self,
        default_url: String,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<StandardNotifier> {
        let smtp = match &self.smtp_host {
            None => None,
            Some(host) => {
                let (security, port) = match self.smtp_security {
                    Security::None => (SmtpSecurity::None, 25),
                    Security::Starttls => (SmtpSecurity::StartTls, 587),
                    Security::Tls => (SmtpSecurity::Tls, 465),
                };
                let password = std::env::var("FOREDECK_SMTP_PASSWORD").ok();
                if self.smtp_user.is_some() && password.is_none() {
                    anyhow::bail!("--smtp-user is set but FOREDECK_SMTP_PASSWORD is not");
                }
                Some(SmtpConfig {
                    host: host.clone(),
                    port: self.smtp_port.unwrap_or(port),
                    security,
                    username: self.smtp_user.clone(),
                    password,
                    from: self.smtp_from.clone(),
                    timeout: Duration::from_secs(30),
                })
            }
        };
        let config = NotifyConfig {
            server_url: self.server_url.clone().unwrap_or(default_url),
            smtp,
            ..NotifyConfig::default()
        };
        Ok(StandardNotifier::new(config, Some(store))?)
    }
}
