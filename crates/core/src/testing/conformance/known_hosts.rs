//! Conformance tests: learned SSH host keys.

use super::support::S;
use crate::store::prelude::*;

/// Known hosts: put, replace, get, forget.
pub async fn known_hosts(s: S) {
    assert_eq!(s.get_known_host("[10.0.0.1]:2222").await.unwrap(), None);
    s.put_known_host("[10.0.0.1]:2222", "ssh-ed25519 AAAA1")
        .await
        .unwrap();
    s.put_known_host("web1", "ssh-ed25519 AAAA2").await.unwrap();
    s.put_known_host("web1", "ssh-ed25519 AAAA3").await.unwrap();
    assert_eq!(
        s.get_known_host("[10.0.0.1]:2222")
            .await
            .unwrap()
            .as_deref(),
        Some("ssh-ed25519 AAAA1")
    );
    assert_eq!(
        s.get_known_host("web1").await.unwrap().as_deref(),
        Some("ssh-ed25519 AAAA3")
    );
    assert_eq!(s.get_known_host("WEB1").await.unwrap(), None);
    assert!(s.delete_known_host("web1").await.unwrap());
    assert!(!s.delete_known_host("web1").await.unwrap());
    assert_eq!(s.get_known_host("web1").await.unwrap(), None);
    assert!(s.get_known_host("[10.0.0.1]:2222").await.unwrap().is_some());
}
