//! The web UI in a real browser: headless Chromium driven through
//! chromedriver (Debian's `chromium` and `chromium-driver`, which
//! `scripts/test.sh` installs), one browser and one server for the whole
//! walk, to keep CI time down. On each page it saves screenshots at laptop
//! and phone widths under `target/ui-screenshots/`, runs axe-core (the
//! npm file `scripts/test.sh` installs, injected into the page: no CDN)
//! and asserts that no planted script payload ran or became an element.
//! Without the browser or axe-core the test fails under CI and is skipped
//! (saying so) elsewhere.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::security_tests::{env, Env, ADMIN, PASSWORD};
use axum::http::{Method, StatusCode};
use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use serde_json::{json, Value};
use std::path::PathBuf;

/// What a page must not run or contain: each payload sets
/// `window.__xss` if it ever runs, or leaves an `<img>`/`<script>`/`<svg>`
/// element behind if it was parsed as markup.
const PAYLOADS: [&str; 3] = [
    "<script>window.__xss=1</script>",
    "<img src=x onerror=\"window.__xss=2\">",
    "\"><svg onload=window.__xss=3>",
];

/// The place of a program on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// The browser, its driver and axe-core, or why the test cannot run.
fn tools() -> Result<(PathBuf, PathBuf, String), String> {
    let chromium = on_path("chromium")
        .or_else(|| on_path("chromium-browser"))
        .ok_or("no chromium on PATH (apt-get install chromium)")?;
    let driver = on_path("chromedriver")
        .ok_or("no chromedriver on PATH (apt-get install chromium-driver)")?;
    let axe = std::env::var("FOREDECK_AXE_JS").map_err(|_| {
        "FOREDECK_AXE_JS is not set (scripts/axe.sh installs axe-core and prints it)"
    })?;
    let axe = std::fs::read_to_string(&axe).map_err(|e| format!("FOREDECK_AXE_JS {axe}: {e}"))?;
    Ok((chromium, driver, axe))
}

/// Where the screenshots go: `target/ui-screenshots` of the build.
fn shots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")));
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A free loopback port (bound, then let go for chromedriver).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver, ended when dropped.
struct Driver(std::process::Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Walk {
    client: Client,
    base: String,
    axe: String,
    shots: PathBuf,
}

impl Walk {
    async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    /// The path (and query) of the page on screen.
    async fn at(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Waits for the browser to show `path` (a bound on tries, not a
    /// timing check): a click that submits returns before the next page.
    async fn arrive(&self, path: &str) {
        for _ in 0..400 {
            if self.at().await == path {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert_eq!(self.at().await, path);
    }

    /// How many elements match, once it is `want` (or the last count).
    async fn count(&self, css: &str, want: usize) -> usize {
        let mut n = 0;
        for _ in 0..400 {
            n = self.client.find_all(Locator::Css(css)).await.unwrap().len();
            if n == want {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        n
    }

    /// Screenshots at laptop and phone widths, axe-core's check and the
    /// payload check of the page on screen.
    async fn check(&self, name: &str) {
        for (width, height, label) in [(1280, 800, "laptop"), (390, 844, "phone")] {
            self.client.set_window_size(width, height).await.unwrap();
            let png = self.client.screenshot().await.unwrap();
            assert!(png.starts_with(b"\x89PNG"), "{name} {label}");
            std::fs::write(self.shots.join(format!("{name}-{label}.png")), png).unwrap();
        }
        self.client.set_window_size(1280, 800).await.unwrap();
        self.no_payload_ran(name).await;
        self.axe(name).await;
    }

    async fn no_payload_ran(&self, name: &str) {
        let found = self
            .client
            .execute(
                "return { ran: window.__xss === undefined ? null : window.__xss, \
                   scripts: Array.from(document.scripts).map(s => s.src), \
                   planted: document.querySelectorAll('img, svg, iframe, object, embed').length };",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(found["ran"], Value::Null, "{name}: a payload ran: {found}");
        assert_eq!(
            found["planted"], 0,
            "{name}: markup from a payload: {found}"
        );
        let scripts = found["scripts"].as_array().unwrap();
        assert_eq!(scripts.len(), 1, "{name}: {found}");
        assert!(
            scripts[0].as_str().unwrap().contains("/static/app."),
            "{name}: {found}"
        );
    }

    /// axe-core on the page: no serious or critical violation.
    async fn axe(&self, name: &str) {
        // injected by the driver (not by the page: the CSP forbids that)
        self.client.execute(&self.axe, vec![]).await.unwrap();
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 axe.run(document, { resultTypes: ['violations'] })\
                   .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, \
                      help: v.help, nodes: v.nodes.map(n => n.html) }))))\
                   .catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e) }]));",
                vec![],
            )
            .await
            .unwrap();
        let bad: Vec<&Value> = found
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(bad.is_empty(), "{name}: axe-core: {bad:#?}");
    }

    async fn fill(&self, css: &str, text: &str) {
        let e = self.client.find(Locator::Css(css)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// The text of the element; a missing one fails with the page.
    async fn text(&self, css: &str) -> String {
        match self.client.wait().for_element(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap(),
            Err(e) => panic!(
                "{css}: {e} on {}: {}",
                self.at().await,
                self.client.source().await.unwrap()
            ),
        }
    }
}

/// The name of planted job `i` (a job name has no `/`).
fn job_name(i: usize, payload: &str) -> String {
    format!("job {i} {}", payload.replace('/', ""))
}

/// A project and jobs whose every field users type carries a payload.
async fn plant(env: &Env) {
    let a = env
        .call(Method::POST, "/api/59/projects")
        .token(ADMIN)
        .json(&json!({"name": "demo", "description": PAYLOADS.join(" ")}).to_string())
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let mut doc = String::new();
    for (i, p) in PAYLOADS.iter().enumerate() {
        let q = |s: String| serde_json::to_string(&s).unwrap();
        doc.push_str(&format!(
            "- name: {}\n  group: {}\n  description: {}\n  sequence: {{commands: [{{exec: echo {i}}}]}}\n",
            q(job_name(i, p)),
            q(format!("ops/{p}")),
            q(format!("{p}\nmore")),
        ));
    }
    doc.push_str("- name: backup\n  group: db\n  sequence: {commands: [{exec: echo b}]}\n");
    let a = env
        .call(Method::POST, "/api/59/project/demo/jobs/import")
        .token(ADMIN)
        .body("application/yaml", doc)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        a.json()["succeeded"].as_array().unwrap().len(),
        4,
        "{}",
        a.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_in_a_real_browser() {
    let (chromium, driver, axe) = match tools() {
        Ok(t) => t,
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("the browser tests cannot run under CI: {why} (scripts/test.sh installs them)")
        }
        Err(why) => {
            eprintln!("SKIPPED the_pages_in_a_real_browser: {why}; run ./scripts/test.sh");
            return;
        }
    };
    let env = env().await;
    plant(&env).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = crate::router(env.state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let port = free_port();
    let _driver = Driver(
        std::process::Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", driver.display())),
    );
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,800"],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let mut client = None;
    // chromedriver takes a moment to listen: a bound on tries, not a timing check
    for _ in 0..100 {
        match ClientBuilder::new(connector.clone())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    let client = client.expect("chromedriver did not answer");
    let w = Walk {
        client,
        base,
        axe,
        shots: shots_dir(),
    };
    // the browser is closed whatever the walk found
    let result = std::panic::AssertUnwindSafe(walk(&w)).catch_unwind().await;
    let _ = w.client.clone().close().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

async fn walk(w: &Walk) {
    // signed out: every page leads to the login page
    w.open("/project/demo/jobs").await;
    w.arrive("/user/login").await;
    w.check("login").await;
    w.fill("#login-user", "root").await;
    w.fill("#login-password", PASSWORD).await;
    w.click("form button[type=submit]").await;
    w.arrive("/").await;

    // the projects home: the planted description shown as text
    w.check("home").await;
    assert!(w.text("main").await.contains(PAYLOADS[0]));
    w.click(".card a[href='/project/demo/jobs']").await;
    w.arrive("/project/demo/jobs").await;

    // the jobs, grouped; names, groups and descriptions shown as text
    w.check("jobs").await;
    let main = w.text("main").await;
    for (i, p) in PAYLOADS.iter().enumerate() {
        assert!(main.contains(&job_name(i, p)), "{main}");
        assert!(main.contains(&format!("ops/{p}")), "{main}");
    }
    w.fill("#job-search", "backup").await;
    w.click("form.search button").await;
    w.arrive("/project/demo/jobs?q=backup").await;
    let main = w.text("main").await;
    assert!(main.contains("backup") && !main.contains("job 0"), "{main}");
    // the project switcher opens from the keyboard and leads to the project
    w.click("details.switcher summary").await;
    assert!(w.text("details.switcher ul").await.contains("demo"));

    // the profile: a token made and deleted through the forms
    w.open("/user/profile").await;
    w.check("profile").await;
    w.fill("#token-name", PAYLOADS[1]).await;
    w.fill("#token-duration", "1d").await;
    w.click("form.stack button").await;
    w.arrive("/user/profile/tokens").await;
    let secret = w.text("#new-token").await;
    assert_eq!(secret.len(), 64, "{secret}");
    w.check("profile-new-token").await;
    let made = w.count("button.danger", 2).await;
    assert_eq!(made, 2, "the set-up's admin token and the new one");
    // the page's script asks first
    w.client
        .find(Locator::XPath("//tr[td[contains(., 'onerror')]]//button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(
        w.client.get_alert_text().await.unwrap(),
        "Delete this API token?"
    );
    w.client.accept_alert().await.unwrap();
    w.arrive("/user/profile").await;
    assert_eq!(w.count("button.danger", 1).await, 1);

    // logging out ends the session: pages lead to the login page again
    w.click("nav.user button").await;
    w.arrive("/user/loggedout").await;
    w.check("logged-out").await;
    w.open("/").await;
    w.arrive("/user/login").await;
}
