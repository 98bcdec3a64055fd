//! The pages over the router (no browser): sign-in, the security headers,
//! CSRF on forms, authorization as the API's, escaping of what users typed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::security_tests::{env, grant, Env, ADMIN, PASSWORD};
use axum::http::{Method, StatusCode};

/// Logs in through the UI's login form; the session cookie and its CSRF
/// token.
async fn ui_login(env: &Env, user: &str) -> (String, String) {
    let a = env
        .call(Method::POST, "/j_security_check")
        .body(
            "application/x-www-form-urlencoded",
            format!(
                "landing=ui&j_username={user}&j_password={}",
                PASSWORD.replace(' ', "+")
            ),
        )
        .send()
        .await;
    assert_eq!(a.status, StatusCode::FOUND, "{}", a.body);
    assert_eq!(a.headers["location"], "/");
    let cookie = a.headers["set-cookie"].to_str().unwrap();
    let cookie = cookie.split("; ").next().unwrap().to_owned();
    let csrf = a.headers["x-csrf-token"].to_str().unwrap().to_owned();
    (cookie, csrf)
}

async fn page(env: &Env, cookie: &str, path: &str) -> crate::security_tests::Answer {
    env.call(Method::GET, path)
        .header("cookie", cookie)
        .send()
        .await
}

fn form_post<'a>(
    env: &'a Env,
    cookie: &str,
    path: &str,
    body: String,
) -> crate::security_tests::Call<'a> {
    env.call(Method::POST, path)
        .header("cookie", cookie)
        .body("application/x-www-form-urlencoded", body)
}

/// The page's security headers, and no script in the page itself.
fn assert_locked_down(a: &crate::security_tests::Answer) {
    let csp = a.headers["content-security-policy"].to_str().unwrap();
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(a.headers["x-content-type-options"], "nosniff");
    assert_eq!(a.headers["cache-control"], "no-store");
    // every <script> of a page loads a file of this server, with nothing inline
    for (i, _) in a.body.match_indices("<script") {
        let tag = &a.body[i..];
        let end = tag.find("</script>").unwrap();
        let tag = &tag[..end];
        assert!(tag.contains(" src=\"/static/"), "{tag}");
        assert!(tag.ends_with('>'), "inline script: {tag}");
    }
}

#[tokio::test]
async fn pages_send_a_signed_out_browser_to_the_login_page() {
    let env = env().await;
    for path in ["/", "/menu/home", "/user/profile", "/project/p/jobs"] {
        let a = env.call(Method::GET, path).send().await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(a.headers["location"], "/user/login", "{path}");
    }
    let a = env.call(Method::GET, "/user/login").send().await;
    assert_eq!(a.status, StatusCode::OK);
    assert_locked_down(&a);
    assert!(
        a.body.contains("action=\"/j_security_check\""),
        "{}",
        a.body
    );
    assert!(a.body.contains("<label for=\"login-user\""), "{}", a.body);
    // a failed login lands on the login page with the reason
    let a = env.call(Method::GET, "/user/error").send().await;
    assert!(a.body.contains("role=\"alert\""), "{}", a.body);
    // an API client's login still lands on its answer, not on a page
    let a = env
        .call(Method::POST, "/j_security_check")
        .body(
            "application/x-www-form-urlencoded",
            format!("j_username=root&j_password={}", PASSWORD.replace(' ', "+")),
        )
        .send()
        .await;
    assert_eq!(a.headers["location"], crate::session::home().as_str());
}

#[tokio::test]
async fn a_login_posted_by_another_site_is_refused() {
    let env = env().await;
    let a = env
        .call(Method::POST, "/j_security_check")
        .header("sec-fetch-site", "cross-site")
        .body(
            "application/x-www-form-urlencoded",
            format!(
                "landing=ui&j_username=root&j_password={}",
                PASSWORD.replace(' ', "+")
            ),
        )
        .send()
        .await;
    assert_eq!(a.headers["location"], "/user/error");
    assert!(a.headers.get("set-cookie").is_none());
}

#[tokio::test]
async fn the_home_page_lists_the_projects_the_user_may_read_escaped() {
    let env = env().await;
    env.project("alpha").await;
    let a = env
        .call(Method::POST, "/api/59/projects")
        .token(ADMIN)
        .json(r#"{"name":"beta","description":"<script>alert(1)</script>"}"#)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    grant(
        &env,
        "ops.aclpolicy",
        "description: ops reads alpha\ncontext: {application: rundeck}\n\
         for: {project: [{equals: {name: alpha}, allow: read}]}\nby: {group: ops}\n",
    )
    .await;
    let (root, _) = ui_login(&env, "root").await;
    let a = page(&env, &root, "/").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_locked_down(&a);
    assert!(
        a.body.contains("href=\"/project/alpha/jobs\""),
        "{}",
        a.body
    );
    assert!(a.body.contains("href=\"/project/beta/jobs\""), "{}", a.body);
    assert!(
        a.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        a.body
    );
    assert!(!a.body.contains("<script>alert"), "{}", a.body);
    // olga reads alpha only: beta is neither listed nor in the switcher
    let (olga, _) = ui_login(&env, "olga").await;
    let a = page(&env, &olga, "/menu/home").await;
    assert!(a.body.contains("/project/alpha/jobs"), "{}", a.body);
    assert!(!a.body.contains("beta"), "{}", a.body);
    // and beta's jobs are refused her, as the API refuses them
    let a = page(&env, &olga, "/project/beta/jobs").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    let a = page(&env, &root, "/project/nothere/jobs").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    // the login page sends a signed-in user home
    let a = page(&env, &root, "/user/login").await;
    assert_eq!(a.headers["location"], "/");
}

#[tokio::test]
async fn the_style_sheet_and_script_are_served_for_good_under_their_hash() {
    let env = env().await;
    let a = env.call(Method::GET, "/user/login").send().await;
    for (url, ctype) in [
        (super::assets::css_url(), "text/css; charset=utf-8"),
        (super::assets::js_url(), "text/javascript; charset=utf-8"),
    ] {
        assert!(a.body.contains(&format!("\"{url}\"")), "{url}: {}", a.body);
        let f = env.call(Method::GET, &url).send().await;
        assert_eq!(f.status, StatusCode::OK, "{url}");
        assert_eq!(f.headers["content-type"], ctype);
        assert_eq!(
            f.headers["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert!(f.body.len() > 100, "{url}");
    }
    let a = env
        .call(Method::GET, "/static/app.0000000000000000.css")
        .send()
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_profile_page_makes_and_deletes_the_users_tokens_with_the_csrf_token() {
    let env = env().await;
    let (olga, csrf) = ui_login(&env, "olga").await;
    let a = page(&env, &olga, "/user/profile").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_locked_down(&a);
    // the token the test set-up gave her is listed, with its delete form
    assert!(a.body.contains("<code>t-ops</code>"), "{}", a.body);
    assert!(
        a.body
            .contains("action=\"/user/profile/tokens/t-ops/delete\""),
        "{}",
        a.body
    );
    let olgas = || async { env.state.store.list_tokens(Some("olga")).await.unwrap() };
    // every form of the page carries the CSRF token
    assert_eq!(
        a.body.matches("<form").count(),
        a.body
            .matches(&format!("name=\"csrf\" value=\"{csrf}\""))
            .count(),
        "{}",
        a.body
    );
    let create = "name=%3Cb%3Emine%3C%2Fb%3E&roles=ops&duration=1d";
    // without the token, or with another, or from another site: refused
    for (body, site) in [
        (create.to_owned(), None),
        (format!("csrf=wrong&{create}"), None),
        (format!("csrf={csrf}&{create}"), Some("cross-site")),
    ] {
        let mut call = form_post(&env, &olga, "/user/profile/tokens", body);
        if let Some(s) = site {
            call = call.header("sec-fetch-site", s);
        }
        let a = call.send().await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    }
    assert_eq!(olgas().await.len(), 1);
    // without generate_user_token she may make none, as by the API
    let a = form_post(
        &env,
        &olga,
        "/user/profile/tokens",
        format!("csrf={csrf}&{create}"),
    )
    .send()
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert!(a.body.contains("generate_user_token"), "{}", a.body);
    grant(
        &env,
        "tokens.aclpolicy",
        "description: ops makes their own tokens\ncontext: {application: rundeck}\n\
         for: {resource: [{equals: {kind: apitoken}, allow: [generate_user_token]}]}\n\
         by: {group: ops}\n",
    )
    .await;
    let a = form_post(
        &env,
        &olga,
        "/user/profile/tokens",
        format!("csrf={csrf}&{create}"),
    )
    .send()
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let start = a.body.find("id=\"new-token\">").unwrap() + "id=\"new-token\">".len();
    let secret = &a.body[start..start + a.body[start..].find('<').unwrap()];
    // the name is shown escaped
    assert!(a.body.contains("&lt;b&gt;mine&lt;/b&gt;"), "{}", a.body);
    let me = env
        .call(Method::GET, "/api/59/user/info")
        .token(secret)
        .send()
        .await;
    assert_eq!(me.json()["login"], "olga", "{}", me.body);
    // roles she does not have are refused, as the API refuses them
    let a = form_post(
        &env,
        &olga,
        "/user/profile/tokens",
        format!("csrf={csrf}&roles=admin"),
    )
    .send()
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert!(a.body.contains("role=\"alert\""), "{}", a.body);
    // her token is deleted; root's admin token is not hers to delete
    let id = olgas()
        .await
        .into_iter()
        .find(|t| t.id != "t-ops")
        .unwrap()
        .id;
    let a = form_post(
        &env,
        &olga,
        "/user/profile/tokens/t-admin/delete",
        format!("csrf={csrf}"),
    )
    .send()
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    let a = form_post(
        &env,
        &olga,
        &format!("/user/profile/tokens/{id}/delete"),
        String::new(),
    )
    .send()
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    let a = form_post(
        &env,
        &olga,
        &format!("/user/profile/tokens/{id}/delete"),
        format!("csrf={csrf}"),
    )
    .send()
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let left: Vec<String> = olgas().await.into_iter().map(|t| t.id).collect();
    assert_eq!(left, ["t-ops"]);
    assert_eq!(
        env.state
            .store
            .list_tokens(Some("root"))
            .await
            .unwrap()
            .len(),
        1
    );
    // after logging out, the pages send her to the login page again
    let a = form_post(&env, &olga, "/user/logout", format!("csrf={csrf}"))
        .send()
        .await;
    assert_eq!(a.headers["location"], "/user/loggedout");
    let a = page(&env, &olga, "/user/profile").await;
    assert_eq!(a.headers["location"], "/user/login");
}

#[tokio::test]
async fn the_jobs_page_groups_and_searches_the_jobs_the_user_may_see() {
    let env = env().await;
    env.project("p").await;
    let doc = "\
- name: deploy <img src=x onerror=alert(1)>
  group: web/<b>prod</b>
  description: \"<script>alert(2)</script>\\nsecond line\"
  sequence: {commands: [{exec: echo 1}]}
- name: backup
  group: db
  sequence: {commands: [{exec: echo 1}]}
- name: top
  sequence: {commands: [{exec: echo 1}]}
";
    let a = env
        .call(Method::POST, "/api/59/project/p/jobs/import")
        .token(ADMIN)
        .body("application/yaml", doc)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let (root, _) = ui_login(&env, "root").await;
    let a = page(&env, &root, "/project/p/jobs").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_locked_down(&a);
    assert!(a.body.contains("3 jobs"), "{}", a.body);
    // groups in order, the top level first
    let top = a.body.find("(no group)").unwrap();
    let db = a.body.find(">db<").unwrap();
    let web = a.body.find("web/&lt;b&gt;prod&lt;/b&gt;").unwrap();
    assert!(top < db && db < web, "{}", a.body);
    assert!(
        a.body.contains("deploy &lt;img src=x onerror=alert(1)&gt;"),
        "{}",
        a.body
    );
    assert!(
        a.body.contains("&lt;script&gt;alert(2)&lt;/script&gt;"),
        "{}",
        a.body
    );
    assert!(
        !a.body.contains("<img") && !a.body.contains("<script>alert"),
        "{}",
        a.body
    );
    let a = page(&env, &root, "/project/p/jobs?q=BACK").await;
    assert!(a.body.contains(">1 job</p>"), "{}", a.body);
    assert!(
        a.body.contains(">backup<") && !a.body.contains("deploy"),
        "{}",
        a.body
    );
    assert!(a.body.contains("value=\"BACK\""), "{}", a.body);
    // olga sees the db group's jobs only
    grant(
        &env,
        "ops.aclpolicy",
        "description: ops reads p\ncontext: {application: rundeck}\n\
         for: {project: [{equals: {name: p}, allow: read}]}\nby: {group: ops}\n\
         ---\ndescription: ops sees db\ncontext: {project: p}\n\
         for: {job: [{equals: {group: db}, allow: [read]}]}\nby: {group: ops}\n",
    )
    .await;
    let (olga, _) = ui_login(&env, "olga").await;
    let a = page(&env, &olga, "/project/p/jobs").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains(">backup<"), "{}", a.body);
    assert!(
        !a.body.contains("deploy") && !a.body.contains(">top<"),
        "{}",
        a.body
    );
}

const DEPLOY: &str = "3b0c1d2e-0000-4000-8000-000000000001";

#[tokio::test]
async fn the_job_page_shows_the_job_its_schedule_and_runs_escaped() {
    let env = env().await;
    env.project("p").await;
    let doc = format!(
        "\
- uuid: {DEPLOY}
  name: deploy <img src=x onerror=alert(1)>
  group: web/<b>prod</b>
  description: \"<script>alert(2)</script>\\nsecond <a href=javascript:alert(3)>line</a>\"
  schedule: {{crontab: '0 0 12 * * ? *'}}
  timeZone: UTC
  nodefilters: {{filter: 'tags: web'}}
  options:
  - {{name: env, required: true, value: '<script>alert(4)</script>', values: [dev, '<script>alert(4)</script>', '<img src=y onerror=alert(5)>'], enforced: true}}
  - {{name: password, secure: true, value: hunter2-secret}}
  sequence:
    commands:
    - {{exec: 'echo first <b>cmd</b>'}}
    - {{script: \"#!/bin/sh\\necho second line of script\"}}
    - {{jobref: {{name: backup, group: db}}}}
- uuid: 3b0c1d2e-0000-4000-8000-000000000002
  name: backup
  group: db
  sequence: {{commands: [{{exec: echo 1}}]}}
- uuid: 3b0c1d2e-0000-4000-8000-000000000003
  name: top
  sequence: {{commands: [{{exec: echo 1}}]}}
"
    );
    let a = env
        .call(Method::POST, "/api/59/project/p/jobs/import")
        .token(ADMIN)
        .body("application/yaml", doc)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(!a.body.contains("\"failed\":[{"), "{}", a.body);
    // three finished runs (two succeeded) and one running
    let start = chrono::Utc::now() - chrono::Duration::hours(1);
    for (i, status) in [
        foredeck_core::ExecutionStatus::Succeeded,
        foredeck_core::ExecutionStatus::Failed,
        foredeck_core::ExecutionStatus::Succeeded,
        foredeck_core::ExecutionStatus::Running,
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = foredeck_core::Execution::new("p", "deploy", "root");
        e.job_id = Some(DEPLOY.to_owned());
        e.date_started = start + chrono::Duration::minutes(i as i64);
        e.date_ended = (status != foredeck_core::ExecutionStatus::Running)
            .then(|| e.date_started + chrono::Duration::seconds(184));
        e.status = status;
        env.state.store.create_execution(&e).await.unwrap();
    }
    let (root, _) = ui_login(&env, "root").await;
    // the jobs page links each name to its page
    let url = format!("/project/p/job/show/{DEPLOY}");
    let a = page(&env, &root, "/project/p/jobs").await;
    assert!(a.body.contains(&format!("href=\"{url}\"")), "{}", a.body);
    let a = page(&env, &root, &url).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_locked_down(&a);
    let b = &a.body;
    for shown in [
        "deploy &lt;img src=x onerror=alert(1)&gt;",
        "web/&lt;b&gt;prod&lt;/b&gt;",
        // the description is markdown: its raw HTML is text
        "&lt;script&gt;alert(2)&lt;/script&gt;",
        "<p>second &lt;a href=javascript:alert(3)&gt;line&lt;/a&gt;</p>",
        "<code>env</code>",
        "&lt;script&gt;alert(4)&lt;/script&gt;",
        "&lt;img src=y onerror=alert(5)&gt;",
        "(only these)",
        "<code>password</code> <span class=\"badge\">secure</span>",
        "(secret, not shown)",
        "<span class=\"kind\">command</span> <code>echo first &lt;b&gt;cmd&lt;/b&gt;</code>",
        "<span class=\"kind\">script</span> <code>#!/bin/sh</code>",
        "<span class=\"kind\">job</span> <code>db/backup</code>",
        "Node filter: <code class=\"filter\">tags: web</code>",
        "<code>0 0 12 * * ? *</code> (UTC)",
        "<strong>66%</strong> of the last 3 finished runs",
        "4 runs in all",
        "3m 4s",
        "running",
    ] {
        assert!(b.contains(shown), "{shown}: {b}");
    }
    assert_eq!(b.matches(" 12:00:00 UTC</time>").count(), 3, "{b}");
    assert!(!b.contains("hunter2"), "{b}");
    assert!(!b.contains("second line of script"), "{b}");
    assert!(
        !b.contains("<img") && !b.contains("<script>alert") && !b.contains("<a href=javascript"),
        "{b}"
    );
    // no link to an execution page (there is none yet)
    assert!(!b.contains("/execution/show/"), "{b}");
    // a missing job, and a job of another project
    let a = page(&env, &root, "/project/p/job/show/no-such-job").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    env.project("q").await;
    let a = page(&env, &root, &format!("/project/q/job/show/{DEPLOY}")).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    // olga reads db's jobs, only views top, and does not see deploy: the
    // page answers as the API's job GET does
    grant(
        &env,
        "ops.aclpolicy",
        "description: ops reads p\ncontext: {application: rundeck}\n\
         for: {project: [{equals: {name: p}, allow: read}]}\nby: {group: ops}\n\
         ---\ndescription: ops sees db\ncontext: {project: p}\n\
         for: {job: [{equals: {group: db}, allow: [read]}, {equals: {name: top}, allow: [view]}]}\n\
         by: {group: ops}\n",
    )
    .await;
    let (olga, _) = ui_login(&env, "olga").await;
    for (n, want) in [
        (2, StatusCode::OK),
        (3, StatusCode::FORBIDDEN),
        (1, StatusCode::NOT_FOUND),
    ] {
        let id = format!("3b0c1d2e-0000-4000-8000-00000000000{n}");
        let api = env
            .call(Method::GET, &format!("/api/59/job/{id}"))
            .token(crate::security_tests::OPS)
            .send()
            .await;
        assert_eq!(api.status, want, "{id}: {}", api.body);
        let a = page(&env, &olga, &format!("/project/p/job/show/{id}")).await;
        assert_eq!(a.status, want, "{id}: {}", a.body);
        assert_locked_down(&a);
    }
}
