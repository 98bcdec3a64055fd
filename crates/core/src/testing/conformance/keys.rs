//! Conformance tests: key storage.

use super::support::{is_not_found, t0, S};
use crate::store::prelude::*;
use crate::store::{KeyType, StoredKey};
use chrono::Duration;

/// Key storage: put, get, replace, list by prefix, delete.
pub async fn keys(s: S) {
    let key = |path: &str, key_type, n: u8| StoredKey {
        path: path.into(),
        key_type,
        ciphertext: (0..=255u8).map(|b| b.wrapping_add(n)).collect(),
        created: t0() + Duration::nanoseconds(i64::from(n)),
        modified: t0() + Duration::seconds(i64::from(n)),
    };
    let paths = [
        ("keys/ops/db.pem", KeyType::Private),
        ("keys/ops/pw", KeyType::Password),
        ("keys/ops/pub", KeyType::Public),
        ("keys/ops_x/a", KeyType::Public),
        ("keys/opsQ", KeyType::Password),
        ("keys/OPS/upper", KeyType::Password),
        ("keys/o%s/z", KeyType::Private),
        ("keys/ünï/ключ", KeyType::Private),
    ];
    for (i, (p, t)) in paths.iter().enumerate() {
        s.put_key(&key(p, *t, i as u8)).await.unwrap();
    }
    assert_eq!(
        s.get_key("keys/ops/db.pem").await.unwrap(),
        Some(key("keys/ops/db.pem", KeyType::Private, 0))
    );
    assert_eq!(s.get_key("keys/ops/DB.pem").await.unwrap(), None);
    let list = |prefix: &'static str| {
        let s = s.clone();
        async move {
            s.list_keys(prefix)
                .await
                .unwrap()
                .into_iter()
                .map(|k| k.path)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list("keys/ops/").await,
        ["keys/ops/db.pem", "keys/ops/pub", "keys/ops/pw"]
    );
    assert_eq!(list("keys/ops_").await, ["keys/ops_x/a"]);
    assert_eq!(list("keys/o%").await, ["keys/o%s/z"]);
    assert_eq!(
        list("keys/ops").await,
        [
            "keys/ops/db.pem",
            "keys/ops/pub",
            "keys/ops/pw",
            "keys/opsQ",
            "keys/ops_x/a"
        ]
    );
    assert_eq!(list("keys/ü").await, ["keys/ünï/ключ"]);
    assert_eq!(list("").await.len(), paths.len());
    assert!(list("nothing").await.is_empty());

    // Replace.
    let mut k = key("keys/ops/pw", KeyType::Private, 99);
    k.ciphertext = vec![];
    s.put_key(&k).await.unwrap();
    assert_eq!(s.get_key("keys/ops/pw").await.unwrap(), Some(k));
    assert_eq!(list("").await.len(), paths.len());

    s.delete_key("keys/ops/pw").await.unwrap();
    assert_eq!(s.get_key("keys/ops/pw").await.unwrap(), None);
    assert!(is_not_found(s.delete_key("keys/ops/pw").await));
    assert_eq!(list("keys/ops/").await, ["keys/ops/db.pem", "keys/ops/pub"]);
}
