//! Downloads the script of `run/url` (Rundeck's ad-hoc script URLs).
//!
//! Secure by default: only `http` and `https`; the whole download (connect,
//! answer and body) within [`Limits::script_url_timeout`](crate::Limits) and
//! at most [`Limits::script_url_max_bytes`](crate::Limits); no proxy from the
//! environment; at most 5 redirects, each checked like the first URL. The
//! address policy is [`crate::outbound`]'s: never link-local (cloud metadata),
//! unspecified, multicast or broadcast addresses, whether the URL names them
//! or a host name resolves to them.

use crate::error::{ApiError, Code};
use crate::outbound::{check, client_builder, CheckedResolver};
use reqwest::Url;
use std::error::Error as StdError;
use std::time::Duration;

const MAX_REDIRECTS: usize = 5;

/// An error with its causes, for a message people can act on.
fn chain(e: &dyn StdError) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

fn bad(message: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("scriptURL: {message}"))
}

/// The URL as shown in job names and the audit log: without a password.
pub(crate) fn shown(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            // fails only for URLs that cannot have credentials: nothing to hide
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => url.to_owned(),
    }
}

/// Downloads the script at `raw`: 400 naming `scriptURL` for a URL that is
/// refused, unreachable, not answered in `timeout`, answered with an error,
/// larger than `max_bytes`, empty or not UTF-8 text.
pub(crate) async fn fetch(
    raw: &str,
    timeout: Duration,
    max_bytes: usize,
) -> Result<String, ApiError> {
    let url = Url::parse(raw.trim()).map_err(|e| bad(format!("{raw:?} is not a URL ({e})")))?;
    check(&url).map_err(bad)?;
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        match check(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(e) => {
                let to = attempt.url().to_string();
                attempt.error(format!("redirect to {to}: {e}"))
            }
        }
    });
    let client = client_builder(CheckedResolver::system())
        .redirect(redirects)
        .build()
        .map_err(|e| {
            tracing::error!(error = %chain(&e), "run/url: cannot build the HTTP client");
            ApiError::of(
                Code::Unknown,
                "Internal error; the server log has the details.",
            )
        })?;
    let download = async {
        let mut resp = client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| bad(chain(&e)))?;
        if resp.status().is_redirection() {
            // a redirect the client would not follow (to another scheme)
            let to = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .unwrap_or("");
            let why = match resp.url().join(to) {
                Ok(u) => check(&u).err().unwrap_or_else(|| "not followed".into()),
                Err(e) => format!("not a URL ({e})"),
            };
            return Err(bad(format!(
                "{} answered {} to {to:?}: {why}",
                resp.url(),
                resp.status()
            )));
        }
        if !resp.status().is_success() {
            return Err(bad(format!("{} answered {}", resp.url(), resp.status())));
        }
        let too_large = || bad(format!("the script is larger than {max_bytes} bytes"));
        if resp.content_length().is_some_and(|n| n > max_bytes as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| bad(chain(&e)))? {
            if body.len() + chunk.len() > max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    // one deadline for connect, answer and body, so one message for it
    let body = tokio::time::timeout(timeout, download)
        .await
        .map_err(|_| bad(format!("no complete answer within {timeout:?}")))??;
    let text =
        String::from_utf8(body).map_err(|e| bad(format!("the script is not UTF-8 text ({e})")))?;
    if text.trim().is_empty() {
        return Err(bad("the downloaded script is empty"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn addresses_and_schemes() {
        for (url, ok) in [
            ("http://127.0.0.1:8080/x.sh", true),
            ("https://scripts.example.com/x.sh", true),
            ("http://10.1.2.3/x", true),
            ("http://[::1]/x", true),
            ("http://169.254.169.254/latest/meta-data", false),
            ("http://[::ffff:169.254.169.254]/", false),
            ("http://[fe80::1]/", false),
            ("http://[fd00:ec2::254]/", false),
            ("http://0.0.0.0/", false),
            ("http://224.0.0.1/", false),
            ("http://255.255.255.255/", false),
            ("file:///etc/passwd", false),
            ("ftp://example.com/x", false),
            ("gopher://example.com/", false),
        ] {
            assert_eq!(check(&Url::parse(url).unwrap()).is_ok(), ok, "{url}");
        }
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            shown("https://me:secret@example.com/s.sh"),
            "https://me@example.com/s.sh"
        );
        assert_eq!(shown("not a url"), "not a url");
    }
}
