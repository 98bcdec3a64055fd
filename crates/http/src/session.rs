//! Form login (`POST /j_security_check`), server-side sessions and CSRF.
//!
//! A login checks the password against the user's argon2 hash and answers
//! like Rundeck: a redirect, with a `JSESSIONID` cookie (HttpOnly,
//! SameSite=Lax) on success (to `home()`, an answer for the session, or
//! to the web UI's home page for its own login form) and to `/user/error`
//! on failure; a login a browser says another site posted is refused. The server keeps
//! sessions in memory under the SHA-256 of their id, with an idle timeout and
//! a maximum age. Each session has a CSRF token, sent in the `X-CSRF-Token`
//! response header of the login and of every cookie-authenticated API
//! response; cookie-authenticated requests other than GET/HEAD/OPTIONS must
//! send it back in the same header. Repeated failed logins for one user
//! name from one address, from one address, or for one name from many
//! addresses (except from an address the user logged in from before) are
//! refused for a while
//! ([`LoginThrottle`](crate::throttle::LoginThrottle)).

use crate::audit::{self, Change};
use crate::extract::ClientAddr;
use crate::secret::{hash_token, new_token_secret};
use crate::throttle::Verdict;
use crate::ApiState;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Router;
use foredeck_core::authorizer::Subject;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use tokio::time::{Duration, Instant};

/// The form login routes (no API token: they make the session).
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/j_security_check", routing::post(login))
        .route("/user/logout", routing::get(logout).post(logout))
}

/// The session cookie (Rundeck's name, which its clients expect).
pub const SESSION_COOKIE: &str = "JSESSIONID";
/// The header carrying a session's CSRF token.
pub const CSRF_HEADER: &str = "X-CSRF-Token";
/// The value of the login form's `landing` field that sends a successful
/// login to the web UI's home page rather than to [`home`], the answer
/// for API clients.
pub(crate) const UI_LANDING: &str = "ui";
/// Longest accepted user name or password in a login form.
const MAX_CREDENTIAL: usize = 1024;

/// One logged-in user.
#[derive(Debug, Clone)]
struct Session {
    subject: Subject,
    csrf: String,
    created: Instant,
    last_seen: Instant,
}

/// Server-side sessions, keyed by the SHA-256 of their id.
#[derive(Debug)]
pub struct Sessions {
    by_hash: Mutex<HashMap<String, Session>>,
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after login, used or not.
    pub max_age: Duration,
    /// Sessions held at once; logins beyond are refused (503).
    pub max_sessions: usize,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::new(Duration::from_secs(30 * 60), Duration::from_secs(12 * 3600))
    }
}

impl Sessions {
    /// Sessions with these lifetimes (and at most 100,000 at once).
    pub fn new(idle: Duration, max_age: Duration) -> Self {
        Sessions {
            by_hash: Mutex::new(HashMap::new()),
            idle,
            max_age,
            max_sessions: 100_000,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the map leaves it consistent (single inserts
        // and removals), so a poisoned lock is still usable.
        self.by_hash.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn live(&self, s: &Session, now: Instant) -> bool {
        now.duration_since(s.last_seen) < self.idle && now.duration_since(s.created) < self.max_age
    }

    /// Starts a session; returns its id and CSRF token, or `None` when the
    /// server holds too many.
    fn create(&self, subject: Subject) -> Option<(String, String)> {
        let id = new_token_secret().ok()?;
        let csrf = new_token_secret().ok()?;
        let now = Instant::now();
        let mut map = self.lock();
        if map.len() >= self.max_sessions {
            map.retain(|_, s| self.live(s, now));
            if map.len() >= self.max_sessions {
                return None;
            }
        }
        map.insert(
            hash_token(&id),
            Session {
                subject,
                csrf: csrf.clone(),
                created: now,
                last_seen: now,
            },
        );
        Some((id, csrf))
    }

    /// The subject and CSRF token of a live session (which counts as use).
    fn get(&self, id: &str) -> Option<(Subject, String)> {
        let now = Instant::now();
        let key = hash_token(id);
        let mut map = self.lock();
        let s = map.get_mut(&key)?;
        if !self.live(s, now) {
            map.remove(&key);
            return None;
        }
        s.last_seen = now;
        Some((s.subject.clone(), s.csrf.clone()))
    }

    fn remove(&self, id: &str) -> Option<Subject> {
        self.lock().remove(&hash_token(id)).map(|s| s.subject)
    }

    /// Sessions held now (live or not yet swept).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The session id in the request's cookies.
pub(crate) fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, v)| *k == SESSION_COOKIE && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

/// What the authentication layer learns from a session cookie.
pub(crate) enum CookieAuth {
    /// No session cookie, or not a live session.
    None,
    /// A live session; the CSRF token it expects.
    Session(Subject, String),
}

pub(crate) fn from_cookie(state: &ApiState, headers: &HeaderMap) -> CookieAuth {
    match session_id(headers).and_then(|id| state.sessions.get(&id)) {
        Some((subject, csrf)) => CookieAuth::Session(subject, csrf),
        None => CookieAuth::None,
    }
}

/// Whether the browser says the request comes from another site
/// (`Sec-Fetch-Site: cross-site`); clients that are not browsers send
/// no such header.
pub(crate) fn cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
}

/// Compares a sent CSRF token with the session's in constant time.
pub(crate) fn csrf_matches(sent: Option<&str>, expected: &str) -> bool {
    let Some(sent) = sent else { return false };
    let (a, b) = (hash_token(sent), hash_token(expected));
    a.bytes()
        .zip(b.bytes())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    j_username: String,
    j_password: String,
    /// `ui` from the web UI's login page: land on its home page.
    #[serde(default)]
    landing: Option<String>,
}

/// Where a client's login lands (the web UI's login form asks for its home
/// page, `/`, with `landing=ui`). Rundeck sends every login to
/// `/menu/home`, a page; API clients that log in by form and follow the
/// redirect (python-rundeck) expect an answer for the session there, so
/// they get the logged-in user's own profile.
pub(crate) fn home() -> String {
    format!("/api/{}/user/info", crate::CURRENT_API)
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_owned())]).into_response()
}

/// A hash to check passwords of unknown users against, so that a login for a
/// user who does not exist takes as long as one with a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let mut salt = [0u8; 16];
        let secret = new_token_secret().unwrap_or_default();
        if getrandom::getrandom(&mut salt).is_err() {
            return String::new();
        }
        SaltString::encode_b64(&salt)
            .ok()
            .and_then(|salt| {
                Argon2::default()
                    .hash_password(secret.as_bytes(), &salt)
                    .ok()
                    .map(|h| h.to_string())
            })
            .unwrap_or_default()
    })
}

async fn password_ok(hash: Option<String>, password: String) -> bool {
    let known = hash.is_some();
    let hash = hash.unwrap_or_else(|| decoy_hash().to_owned());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
        && known
}

/// `POST /j_security_check`: form login.
pub(crate) async fn login(
    State(state): State<ApiState>,
    from: ClientAddr,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return redirect("/user/error");
    };
    if cross_site(&headers) {
        // a page of another site posting credentials (login CSRF): a
        // browser says so; nothing is checked
        return redirect("/user/error");
    }
    let name: String = form.j_username.chars().take(200).collect();
    let fail = |why: &'static str| {
        let state = state.clone();
        let from = from.clone();
        let name = name.clone();
        async move {
            audit::record_from(
                &state,
                &name,
                &from,
                Change {
                    action: "login_failed",
                    resource_type: "session",
                    resource: &name,
                    project: None,
                    detail: json!({ "reason": why }),
                },
            )
            .await;
            redirect("/user/error")
        }
    };
    if form.j_username.is_empty()
        || form.j_username.len() > MAX_CREDENTIAL
        || form.j_password.len() > MAX_CREDENTIAL
    {
        return fail("malformed credentials").await;
    }
    let address = from.0.as_deref();
    if let Verdict::Wait(wait) = state.login_throttle.check(&form.j_username, address) {
        tracing::warn!(user = %name, address = ?address, wait_seconds = wait.as_secs(), "login refused: too many failures");
        return fail("too many failed logins: refused without checking the password").await;
    }
    let user = match state.store.get_user(&form.j_username).await {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "login: reading the user failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    if !password_ok(hash, form.j_password).await {
        state.login_throttle.failed(&form.j_username, address);
        return fail("wrong user name or password").await;
    }
    let Some(user) = user else {
        return fail("wrong user name or password").await;
    };
    state.login_throttle.succeeded(&form.j_username, address);
    let subject = Subject::new(user.login.clone(), user.roles.clone());
    let Some((id, csrf)) = state.sessions.create(subject) else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    audit::record_from(
        &state,
        &user.login,
        &from,
        Change {
            action: "login",
            resource_type: "session",
            resource: &user.login,
            project: None,
            detail: json!({}),
        },
    )
    .await;
    let mut resp = match form.landing.as_deref() {
        Some(UI_LANDING) => redirect("/"),
        _ => redirect(&home()),
    };
    let cookie = format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax");
    if let (Ok(c), Ok(t)) = (HeaderValue::from_str(&cookie), HeaderValue::from_str(&csrf)) {
        resp.headers_mut().insert(header::SET_COOKIE, c);
        resp.headers_mut().insert(CSRF_HEADER, t);
    }
    resp.extensions_mut()
        .insert(crate::request_log::User(user.login));
    resp
}

/// `GET|POST /user/logout`: ends the session and clears the cookie.
pub(crate) async fn logout(
    State(state): State<ApiState>,
    from: ClientAddr,
    headers: HeaderMap,
) -> Response {
    if let Some(subject) = session_id(&headers).and_then(|id| state.sessions.remove(&id)) {
        audit::by(
            &state,
            &subject,
            &from,
            Change {
                action: "logout",
                resource_type: "session",
                resource: &subject.user,
                project: None,
                detail: json!({}),
            },
        )
        .await;
    }
    let mut resp = redirect("/user/loggedout");
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("JSESSIONID=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    resp
}
