//! Throttling of failed logins: after a few failures for one user name (or
//! from one address) further attempts are refused, without checking the
//! password, for a time that doubles with each failure up to a cap. This
//! bounds password guessing and the CPU an attacker can make the server
//! spend on Argon2.

use std::collections::HashMap;
use std::sync::Mutex;
use tokio::time::{Duration, Instant};

/// Failed-login counts by user name and by client address.
#[derive(Debug)]
pub struct LoginThrottle {
    entries: Mutex<HashMap<String, Failures>>,
    /// Failures for one user name before attempts are refused.
    pub user_failures: u32,
    /// Failures from one address before attempts are refused.
    pub address_failures: u32,
    /// The longest refusal; also how long a failure is remembered.
    pub max_lock: Duration,
    /// Names and addresses tracked at once; past that, the oldest are
    /// forgotten.
    pub max_entries: usize,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            entries: Mutex::new(HashMap::new()),
            user_failures: 5,
            address_failures: 20,
            max_lock: Duration::from_secs(15 * 60),
            max_entries: 100_000,
        }
    }
}

/// What a throttle says of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The password may be checked.
    Try,
    /// Refused for this long still.
    Wait(Duration),
}

impl LoginThrottle {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        // Single inserts and removals keep the map consistent on a panic.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn keys(user: &str, address: Option<&str>) -> [(String, bool); 2] {
        [
            (format!("user:{user}"), true),
            (
                format!("addr:{}", address.unwrap_or_default()),
                address.is_some(),
            ),
        ]
    }

    /// How long the refusal after `count` failures lasts when `free` are
    /// allowed: 1 s for the first one past the allowance, doubling, capped.
    fn lock_for(&self, count: u32, free: u32) -> Duration {
        if count < free {
            return Duration::ZERO;
        }
        let doublings = (count - free).min(30);
        Duration::from_secs(1u64 << doublings).min(self.max_lock)
    }

    /// Whether a login for `user` from `address` may check its password now.
    pub fn check(&self, user: &str, address: Option<&str>) -> Verdict {
        let now = Instant::now();
        let map = self.lock();
        let mut wait = Duration::ZERO;
        for ((key, used), free) in Self::keys(user, address)
            .into_iter()
            .zip([self.user_failures, self.address_failures])
        {
            if !used {
                continue;
            }
            if let Some(f) = map.get(&key) {
                let until = f.last + self.lock_for(f.count, free);
                wait = wait.max(until.saturating_duration_since(now));
            }
        }
        if wait.is_zero() {
            Verdict::Try
        } else {
            Verdict::Wait(wait)
        }
    }

    /// Counts a failed login.
    pub fn failed(&self, user: &str, address: Option<&str>) {
        let now = Instant::now();
        let mut map = self.lock();
        if map.len() >= self.max_entries {
            let max_lock = self.max_lock;
            map.retain(|_, f| now.duration_since(f.last) < max_lock);
            if map.len() >= self.max_entries {
                // still full of recent failures: forget the oldest half
                let mut by_age: Vec<(Instant, String)> =
                    map.iter().map(|(k, f)| (f.last, k.clone())).collect();
                by_age.sort();
                for (_, k) in by_age.into_iter().take(self.max_entries / 2) {
                    map.remove(&k);
                }
            }
        }
        for (key, used) in Self::keys(user, address) {
            if !used {
                continue;
            }
            let f = map.entry(key).or_insert(Failures {
                count: 0,
                last: now,
            });
            // a failure long after the last one starts the count over
            if now.duration_since(f.last) >= self.max_lock {
                f.count = 0;
            }
            f.count = f.count.saturating_add(1);
            f.last = now;
        }
    }

    /// Forgets the failures of a user name after a successful login.
    pub fn succeeded(&self, user: &str) {
        self.lock().remove(&format!("user:{user}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn refusals_double_and_end() {
        let t = LoginThrottle::default();
        for _ in 0..4 {
            t.failed("root", Some("10.0.0.1"));
            assert_eq!(t.check("root", Some("10.0.0.1")), Verdict::Try);
        }
        t.failed("root", Some("10.0.0.1"));
        assert_eq!(
            t.check("root", Some("10.0.0.9")),
            Verdict::Wait(Duration::from_secs(1))
        );
        // other users from other addresses are not affected
        assert_eq!(t.check("olga", Some("10.0.0.9")), Verdict::Try);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(t.check("root", None), Verdict::Try);
        t.failed("root", None);
        assert_eq!(t.check("root", None), Verdict::Wait(Duration::from_secs(2)));
        for _ in 0..20 {
            t.failed("root", None);
        }
        assert_eq!(t.check("root", None), Verdict::Wait(t.max_lock));
        t.succeeded("root");
        assert_eq!(t.check("root", None), Verdict::Try);
    }

    #[tokio::test(start_paused = true)]
    async fn one_address_guessing_many_names_is_refused() {
        let t = LoginThrottle::default();
        for i in 0..20 {
            assert_eq!(t.check(&format!("u{i}"), Some("10.0.0.1")), Verdict::Try);
            t.failed(&format!("u{i}"), Some("10.0.0.1"));
        }
        assert!(matches!(
            t.check("someone-else", Some("10.0.0.1")),
            Verdict::Wait(_)
        ));
        assert_eq!(t.check("someone-else", Some("10.0.0.2")), Verdict::Try);
        // forgotten after the longest lock
        tokio::time::advance(t.max_lock).await;
        assert_eq!(t.check("someone-else", Some("10.0.0.1")), Verdict::Try);
    }

    #[tokio::test(start_paused = true)]
    async fn the_map_stays_bounded() {
        let t = LoginThrottle {
            max_entries: 100,
            ..LoginThrottle::default()
        };
        for i in 0..1_000 {
            t.failed(&format!("u{i}"), None);
            tokio::time::advance(Duration::from_millis(1)).await;
        }
        assert!(t.lock().len() <= 100);
        // the newest failures are kept
        for _ in 0..4 {
            t.failed("u999", None);
        }
        assert!(matches!(t.check("u999", None), Verdict::Wait(_)));
    }
}
