//! Cheap refusals of API token guessing: an address that sent too many
//! tokens the store does not know is answered `429` for the rest of a
//! window without another store lookup, so an invalid-token flood costs
//! the server little and cannot crowd out authenticated requests. Tokens
//! already known (recently looked up and valid) are never refused here.

use std::collections::HashMap;
use std::sync::Mutex;
use tokio::time::{Duration, Instant};

/// Failed token lookups by client address.
#[derive(Debug)]
pub struct TokenGuard {
    entries: Mutex<HashMap<String, Window>>,
    /// Failed lookups from one address per window before its unknown
    /// tokens are refused without a lookup.
    pub max_failures: u32,
    /// How long failures are counted (and a refusal lasts at most).
    pub window: Duration,
    /// Addresses tracked at once; past that, expired windows and then the
    /// oldest are forgotten.
    pub max_entries: usize,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    count: u32,
    since: Instant,
}

impl Default for TokenGuard {
    fn default() -> Self {
        TokenGuard {
            entries: Mutex::new(HashMap::new()),
            max_failures: 20,
            window: Duration::from_secs(60),
            max_entries: 100_000,
        }
    }
}

impl TokenGuard {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Window>> {
        // single inserts and removals keep the map consistent on a panic
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long lookups from `address` are still refused (`None`: a lookup
    /// may go ahead).
    pub fn refused_for(&self, address: &str) -> Option<Duration> {
        let now = Instant::now();
        let map = self.lock();
        let w = map.get(address)?;
        let end = w.since + self.window;
        (w.count >= self.max_failures && now < end).then(|| end - now)
    }

    /// Counts a lookup of an unknown (or expired) token from `address`.
    pub fn failed(&self, address: &str) {
        let now = Instant::now();
        let mut map = self.lock();
        if map.len() >= self.max_entries && !map.contains_key(address) {
            let window = self.window;
            map.retain(|_, w| now.duration_since(w.since) < window);
            if map.len() >= self.max_entries {
                let mut by_age: Vec<(Instant, String)> =
                    map.iter().map(|(k, w)| (w.since, k.clone())).collect();
                by_age.sort();
                for (_, k) in by_age.into_iter().take(self.max_entries / 2) {
                    map.remove(&k);
                }
            }
        }
        let w = map.entry(address.to_owned()).or_insert(Window {
            count: 0,
            since: now,
        });
        if now.duration_since(w.since) >= self.window {
            *w = Window {
                count: 0,
                since: now,
            };
        }
        w.count = w.count.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_address_is_refused_for_the_rest_of_its_window() {
        let g = TokenGuard::default();
        for _ in 0..g.max_failures {
            assert_eq!(g.refused_for("10.0.0.1"), None);
            g.failed("10.0.0.1");
        }
        assert_eq!(g.refused_for("10.0.0.1"), Some(g.window));
        assert_eq!(g.refused_for("10.0.0.2"), None);
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(g.refused_for("10.0.0.1"), Some(Duration::from_secs(1)));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(g.refused_for("10.0.0.1"), None);
        g.failed("10.0.0.1");
        assert_eq!(g.refused_for("10.0.0.1"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_map_stays_bounded() {
        let g = TokenGuard {
            max_entries: 100,
            ..TokenGuard::default()
        };
        for i in 0..1_000 {
            g.failed(&format!("10.0.{}.{}", i / 256, i % 256));
            tokio::time::advance(Duration::from_millis(1)).await;
        }
        assert!(g.lock().len() <= 100);
    }
}
