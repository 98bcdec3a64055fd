//! HTTP requests to destinations a user named (`run/url` scripts,
//! notification webhooks), under the address policy of
//! [`foredeck_core::net`]: the URL is checked before any connection, and
//! host names are resolved by [`CheckedResolver`], which hands the client
//! only allowed addresses. The client connects to exactly the addresses the
//! resolver returned, so a name that resolves to an allowed address when it
//! is checked and to a metadata address a moment later (DNS rebinding)
//! cannot get through. Redirects must be checked with [`check`] too (an
//! address literal in a `Location` is never resolved).

use foredeck_core::net::{check_outbound, outbound_allowed};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Checks a URL before any connection: `http` or `https`, and an address
/// literal host only where the policy allows it.
pub fn check(url: &Url) -> Result<(), String> {
    check_outbound(url.scheme(), url.host_str().unwrap_or(""))
}

/// Name resolution that keeps only the addresses the policy allows, and
/// fails, naming the host and what it resolved to, when none is left.
#[derive(Clone, Debug, Default)]
pub struct CheckedResolver {
    /// Names answered from this table instead of the system resolver.
    fixed: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl CheckedResolver {
    /// The system resolver (`getaddrinfo`), checked.
    pub fn system() -> Self {
        CheckedResolver::default()
    }

    /// Answers the names of `table` from it (as `/etc/hosts` would), the
    /// others from the system resolver; every answer is checked.
    pub fn with_hosts(table: HashMap<String, Vec<IpAddr>>) -> Self {
        CheckedResolver {
            fixed: Arc::new(table),
        }
    }

    /// The allowed addresses of `host`.
    pub async fn lookup(&self, host: &str) -> std::io::Result<Vec<SocketAddr>> {
        let found: Vec<SocketAddr> = match self.fixed.get(host) {
            Some(ips) => ips.iter().map(|ip| SocketAddr::new(*ip, 0)).collect(),
            None => tokio::net::lookup_host((host, 0)).await?.collect(),
        };
        let (kept, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
            found.into_iter().partition(|a| outbound_allowed(a.ip()));
        if kept.is_empty() {
            let shown: Vec<String> = refused.iter().map(|a| a.ip().to_string()).collect();
            return Err(std::io::Error::other(format!(
                "{host} resolves only to addresses the server does not connect to ({})",
                shown.join(", ")
            )));
        }
        Ok(kept)
    }
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let me = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Addrs = Box::new(me.lookup(&host).await?.into_iter());
            Ok(addrs)
        })
    }
}

/// A client builder for user-named destinations: resolution through
/// `resolver`, and no proxy from the environment (a proxy would connect to
/// addresses this side never sees).
pub fn client_builder(resolver: CheckedResolver) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .dns_resolver(Arc::new(resolver))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls() {
        for (url, ok) in [
            ("http://127.0.0.1:8080/x.sh", true),
            ("https://hooks.example.com/x", true),
            ("http://169.254.169.254/latest/meta-data", false),
            ("http://[::ffff:169.254.169.254]/", false),
            ("http://[fd00:ec2::254]/", false),
            ("file:///etc/passwd", false),
        ] {
            assert_eq!(check(&Url::parse(url).unwrap()).is_ok(), ok, "{url}");
        }
    }

    /// A name that resolves to the metadata address is never connected to,
    /// whatever the URL looked like; one with an allowed address as well
    /// connects to that one only.
    #[tokio::test]
    async fn names_resolving_to_refused_addresses_are_not_reached() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let metadata: IpAddr = "169.254.169.254".parse().unwrap();
        let resolver = CheckedResolver::with_hosts(HashMap::from([
            ("metadata.test".to_owned(), vec![metadata]),
            (
                "mixed.test".to_owned(),
                vec![metadata, "127.0.0.1".parse().unwrap()],
            ),
        ]));
        let err = resolver.lookup("metadata.test").await.unwrap_err();
        assert!(err.to_string().contains("169.254.169.254"), "{err}");
        let kept = resolver.lookup("mixed.test").await.unwrap();
        assert_eq!(kept, vec!["127.0.0.1:0".parse().unwrap()]);

        let client = client_builder(resolver).build().unwrap();
        let err = client
            .get(format!("http://metadata.test:{port}/"))
            .send()
            .await
            .unwrap_err();
        let mut text = err.to_string();
        let mut src = std::error::Error::source(&err);
        while let Some(s) = src {
            text.push_str(&format!(": {s}"));
            src = s.source();
        }
        assert!(text.contains("does not connect to"), "{text}");
        let body = client
            .get(format!("http://mixed.test:{port}/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, "hello");
    }
}
