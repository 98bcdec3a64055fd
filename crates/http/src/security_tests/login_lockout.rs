//! Finding 9 of issue 17: nobody can lock a user out of form login. A flood
//! of wrong passwords from one address locks that address, not the user:
//! the right password from another address still logs in, and an address
//! the user logged in from before passes a lock of the name that many
//! addresses caused.

use super::*;
use std::net::SocketAddr;

pub(crate) trait FromAddress {
    /// The request as if it came from `ip` (what the server's accept loop
    /// adds to every request).
    fn sent_from(self, ip: &str) -> Self;
}

impl FromAddress for Call<'_> {
    fn sent_from(mut self, ip: &str) -> Self {
        let addr = SocketAddr::new(ip.parse().unwrap(), 40_000);
        self.req = self.req.extension(axum::extract::ConnectInfo(addr));
        self
    }
}

async fn login_from(env: &Env, ip: &str, user: &str, password: &str) -> Answer {
    env.call(Method::POST, "/j_security_check")
        .sent_from(ip)
        .body(
            "application/x-www-form-urlencoded",
            format!(
                "j_username={user}&j_password={}",
                password.replace(' ', "+")
            ),
        )
        .send()
        .await
}

fn logged_in(a: &Answer) -> bool {
    a.status == StatusCode::FOUND
        && a.headers["location"] == crate::session::home().as_str()
        && a.headers.get("set-cookie").is_some()
}

#[tokio::test(start_paused = true)]
async fn a_flood_from_one_address_does_not_lock_the_user_out() {
    let env = env().await;
    for _ in 0..40 {
        let a = login_from(&env, "10.66.0.1", "root", "wrong").await;
        assert!(!logged_in(&a));
    }
    // the flooding address is refused, even with the right password
    assert!(!logged_in(
        &login_from(&env, "10.66.0.1", "root", PASSWORD).await
    ));
    let refused = env.audit("login_failed", "session").await;
    assert!(refused
        .iter()
        .any(|e| e.detail.to_string().contains("too many failed logins")));
    // the right password from another address gets in
    let a = login_from(&env, "10.7.0.1", "root", PASSWORD).await;
    assert!(logged_in(&a), "{:?}", a.headers);
    // so does another user from another address
    assert!(logged_in(
        &login_from(&env, "10.7.0.2", "olga", PASSWORD).await
    ));
}

#[tokio::test(start_paused = true)]
async fn a_known_good_address_passes_a_lock_of_the_name() {
    let env = env().await;
    assert!(logged_in(
        &login_from(&env, "10.1.0.1", "root", PASSWORD).await
    ));
    // wrong passwords for root from many addresses, a few from each
    let many = env.state.login_throttle.name_failures;
    for i in 0..many {
        let ip = format!("10.2.{}.{}", i / 200, i % 200);
        assert!(!logged_in(&login_from(&env, &ip, "root", "wrong").await));
    }
    // an address root never logged in from must wait now ...
    assert!(!logged_in(
        &login_from(&env, "10.3.0.1", "root", PASSWORD).await
    ));
    // ... the address root logged in from before is let through
    assert!(logged_in(
        &login_from(&env, "10.1.0.1", "root", PASSWORD).await
    ));
}
