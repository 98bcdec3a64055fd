//! Short-lived memory of store reads that every request repeats (the
//! caller's token, the project it names, the finished execution whose
//! output a client polls), so that a busy client does not cost a store
//! round trip per request for each of them.
//!
//! An entry lives [`Recent::ttl`] at most; whatever this server changes
//! (a token or project deleted) is forgotten at once. A change made through
//! another server of a cluster is seen here after the ttl at the latest.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a token or project read from the store is taken as current.
pub const RECENT_TTL: Duration = Duration::from_secs(2);

/// Most entries kept; a full map first drops what is stale, and is emptied
/// when everything in it is fresh (many distinct tokens within the ttl).
pub const RECENT_MAX: usize = 4096;

/// How long a finished execution's record is kept for its output reads.
pub const FINISHED_TTL: Duration = Duration::from_secs(60);

/// Most finished executions kept (a record holds every node's state).
pub const FINISHED_MAX: usize = 256;

/// Values read from the store at most `ttl` ago, by key.
#[derive(Debug)]
pub struct Recent<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
    ttl: Duration,
    max: usize,
}

impl<K: Eq + Hash, V: Clone> Default for Recent<K, V> {
    fn default() -> Self {
        Recent::new(RECENT_TTL, RECENT_MAX)
    }
}

impl<K: Eq + Hash, V: Clone> Recent<K, V> {
    /// Entries valid for `ttl`, at most `max` of them.
    pub fn new(ttl: Duration, max: usize) -> Self {
        Recent {
            entries: Mutex::new(HashMap::new()),
            ttl,
            max: max.max(1),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<K, (V, Instant)>> {
        // a panic while holding the lock cannot leave the map inconsistent
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value stored for `key` less than the ttl ago.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let entries = self.entries();
        let (v, at) = entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| v.clone())
    }

    /// Remembers `value`, read from the store just now.
    pub fn put(&self, key: K, value: V) {
        let mut entries = self.entries();
        if entries.len() >= self.max && !entries.contains_key(&key) {
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| at.elapsed() < ttl);
            if entries.len() >= self.max {
                entries.clear();
            }
        }
        entries.insert(key, (value, Instant::now()));
    }

    /// Forgets `key` (changed or deleted through this server).
    pub fn forget<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.entries().remove(key);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.entries().clear();
    }

    /// Entries held, stale ones included.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_are_forgotten() {
        let r: Recent<String, u32> = Recent::new(Duration::from_millis(50), 10);
        r.put("a".into(), 1);
        assert_eq!(r.get("a"), Some(1));
        r.forget("a");
        assert_eq!(r.get("a"), None);
        r.put("b".into(), 2);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(r.get("b"), None, "an entry older than the ttl is not used");
        r.put("b".into(), 3);
        assert_eq!(r.get("b"), Some(3));
        r.clear();
        assert!(r.is_empty());
    }

    #[test]
    fn memory_is_bounded() {
        let r: Recent<u32, u32> = Recent::new(Duration::from_secs(60), 8);
        for i in 0..1000 {
            r.put(i, i);
            assert!(r.len() <= 8, "{} entries after {i}", r.len());
        }
        assert_eq!(r.get(&999), Some(999), "the newest entry is kept");
        // re-putting a held key never empties the map
        let before = r.len();
        r.put(999, 5);
        assert_eq!(r.len(), before);
        assert_eq!(r.get(&999), Some(5));
    }
}
