//! Throttling of failed logins. Failures are counted per (address, user
//! name), per address and per user name; past a few of them further
//! attempts are refused, without checking the password, for a time that
//! doubles with each failure up to a cap. This bounds password guessing and
//! the CPU an attacker can make the server spend on Argon2.
//!
//! A flood from one address locks that address (and its pair with the name)
//! only: the right password from another address still gets in. Failures of
//! one name from many addresses lock the name after a larger allowance,
//! except from an address that logged in as that user before (a known-good
//! address), so that nobody can lock a user out from everywhere.

use std::collections::HashMap;
use std::sync::Mutex;
use tokio::time::{Duration, Instant};

/// Failed-login counts by (address, name), address and name, and the
/// addresses each user logged in from.
#[derive(Debug)]
pub struct LoginThrottle {
    entries: Mutex<Entries>,
    /// Failures for one user name from one address before attempts from
    /// there are refused.
    pub user_failures: u32,
    /// Failures from one address (any names) before attempts are refused.
    pub address_failures: u32,
    /// Failures for one user name from any addresses before attempts from
    /// addresses it never logged in from are refused.
    pub name_failures: u32,
    /// The longest refusal; also how long a failure is remembered.
    pub max_lock: Duration,
    /// How long an address that logged in stays known-good for its user.
    pub remember_good: Duration,
    /// Keys (and known-good addresses) tracked at once; past that, the
    /// oldest are forgotten.
    pub max_entries: usize,
}

#[derive(Debug, Default)]
struct Entries {
    failures: HashMap<String, Failures>,
    good: HashMap<String, Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            entries: Mutex::new(Entries::default()),
            user_failures: 5,
            address_failures: 20,
            name_failures: 100,
            max_lock: Duration::from_secs(15 * 60),
            remember_good: Duration::from_secs(30 * 24 * 3600),
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

/// Forgets the oldest half of `map` when it holds `max` entries.
fn bound<V>(map: &mut HashMap<String, V>, max: usize, age: impl Fn(&V) -> Instant) {
    if map.len() < max {
        return;
    }
    let mut by_age: Vec<(Instant, String)> = map.iter().map(|(k, v)| (age(v), k.clone())).collect();
    by_age.sort();
    for (_, k) in by_age.into_iter().take(max / 2) {
        map.remove(&k);
    }
}

impl LoginThrottle {
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Single inserts and removals keep the maps consistent on a panic.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pair(user: &str, address: Option<&str>) -> String {
        format!("{}\n{user}", address.unwrap_or_default())
    }

    /// The keys an attempt counts under, with their allowances; the
    /// address key only when the address is known.
    fn keys(&self, user: &str, address: Option<&str>) -> Vec<(String, u32)> {
        let mut keys = vec![
            (
                format!("pair:{}", Self::pair(user, address)),
                self.user_failures,
            ),
            (format!("user:{user}"), self.name_failures),
        ];
        if let Some(a) = address {
            keys.push((format!("addr:{a}"), self.address_failures));
        }
        keys
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
        let entries = self.lock();
        let known_good = entries
            .good
            .get(&Self::pair(user, address))
            .is_some_and(|t| now.duration_since(*t) < self.remember_good);
        let mut wait = Duration::ZERO;
        for (key, free) in self.keys(user, address) {
            if known_good && key.starts_with("user:") {
                continue;
            }
            if let Some(f) = entries.failures.get(&key) {
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
        let mut entries = self.lock();
        let map = &mut entries.failures;
        if map.len() >= self.max_entries {
            let max_lock = self.max_lock;
            map.retain(|_, f| now.duration_since(f.last) < max_lock);
            bound(map, self.max_entries, |f| f.last);
        }
        for (key, _) in self.keys(user, address) {
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

    /// After a successful login: forgets the failures of this name from
    /// this address, and remembers the address as known-good for the user.
    pub fn succeeded(&self, user: &str, address: Option<&str>) {
        let now = Instant::now();
        let mut entries = self.lock();
        let pair = Self::pair(user, address);
        entries.failures.remove(&format!("pair:{pair}"));
        if !entries.good.contains_key(&pair) {
            let keep = self.remember_good;
            entries.good.retain(|_, t| now.duration_since(*t) < keep);
            bound(&mut entries.good, self.max_entries, |t| *t);
        }
        entries.good.insert(pair, now);
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
            t.check("root", Some("10.0.0.1")),
            Verdict::Wait(Duration::from_secs(1))
        );
        // the same name from another address, and other users, may try
        assert_eq!(t.check("root", Some("10.0.0.9")), Verdict::Try);
        assert_eq!(t.check("olga", Some("10.0.0.9")), Verdict::Try);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(t.check("root", Some("10.0.0.1")), Verdict::Try);
        t.failed("root", Some("10.0.0.1"));
        assert_eq!(
            t.check("root", Some("10.0.0.1")),
            Verdict::Wait(Duration::from_secs(2))
        );
        for _ in 0..20 {
            t.failed("root", None);
        }
        assert_eq!(t.check("root", None), Verdict::Wait(t.max_lock));
        t.succeeded("root", None);
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
    async fn many_addresses_lock_a_name_except_from_known_good_ones() {
        let t = LoginThrottle::default();
        t.succeeded("root", Some("10.1.0.1"));
        for i in 0..t.name_failures {
            t.failed("root", Some(&format!("10.2.{}.{}", i / 200, i % 200)));
        }
        assert!(matches!(
            t.check("root", Some("10.3.0.1")),
            Verdict::Wait(_)
        ));
        assert_eq!(t.check("root", Some("10.1.0.1")), Verdict::Try);
        assert_eq!(t.check("olga", Some("10.3.0.1")), Verdict::Try);
    }

    #[tokio::test(start_paused = true)]
    async fn the_map_stays_bounded() {
        let t = LoginThrottle {
            max_entries: 100,
            ..LoginThrottle::default()
        };
        for i in 0..1_000 {
            t.failed(&format!("u{i}"), None);
            t.succeeded(&format!("u{i}"), Some("10.0.0.1"));
            tokio::time::advance(Duration::from_millis(1)).await;
        }
        assert!(t.lock().failures.len() <= 100);
        assert!(t.lock().good.len() <= 100);
        // the newest failures are kept
        for _ in 0..4 {
            t.failed("u999", None);
        }
        assert!(matches!(t.check("u999", None), Verdict::Wait(_)));
    }
}
