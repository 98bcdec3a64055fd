//! The sweep's route table ([`routes`]) and the check that it names every
//! route [`router`](crate::router) registers (in `lib.rs` and in the
//! `routes()` functions of the area modules it merges): a route added
//! without an entry here fails `the_sweep_covers_every_route`.

use axum::http::Method;

/// What a route must answer a caller who may not see its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Expect {
    /// 403 or 404 with Rundeck's error body.
    Denied,
    /// 200 to an authenticated caller (their own things, or a filtered
    /// list); 403 without credentials.
    Open,
    /// 200 with every item refused (Rundeck's bulk deletes); 403 without
    /// credentials.
    Refused,
    /// A redirect to this page, and no session (form login and logout;
    /// the web UI's pages without a session).
    Redirect(&'static str),
    /// 200 to everyone, with nothing of anyone's (the login page, the UI's
    /// style sheet and script).
    Public,
}

/// One request of the sweep.
#[derive(Clone, Debug)]
pub(super) struct Route {
    pub method: Method,
    pub uri: String,
    /// Content type and body.
    pub body: Option<(&'static str, String)>,
    pub expect: Expect,
}

/// The things the routes are aimed at: `{p}`, `{j}`, `{e}`, `{h}`, `{t}`
/// in [`TABLE`].
pub(super) struct Target<'a> {
    pub project: &'a str,
    pub job: &'a str,
    pub exec: u64,
    pub hook: &'a str,
    pub token_id: &'a str,
}

const JSON: &str = "application/json";
const YAML: &str = "application/yaml";
const POLICY: &str =
    "description: test\ncontext: {application: rundeck}\nfor: {project: [{allow: '*'}]}\nby: {group: dev}\n";

use Expect::{Denied, Open, Public, Redirect, Refused};

/// Method and URI, what to expect, and an optional (content type, body).
type Entry = (&'static str, Expect, Option<(&'static str, &'static str)>);

#[rustfmt::skip]
const TABLE: &[Entry] = &[
    // system, projects
    ("GET /api/59/system/info", Denied, None),
    ("GET /api/59/metrics/ping", Denied, None),
    ("GET /api/59/metrics/healthcheck", Denied, None),
    ("GET /api/59/projects", Open, None),
    ("POST /api/59/projects", Denied, Some((JSON, r#"{"name":"mine"}"#))),
    ("GET /api/59/project/{p}", Denied, None),
    ("DELETE /api/59/project/{p}", Denied, None),
    // jobs
    ("GET /api/59/project/{p}/jobs", Denied, None),
    ("GET /api/59/project/{p}/jobs/export", Denied, None),
    ("POST /api/59/project/{p}/jobs/import", Denied,
        Some((YAML, "- name: mine\n  sequence: {commands: [{exec: 'true'}]}\n"))),
    ("POST /api/59/jobs/delete", Refused, Some((JSON, r#"{"ids":["{j}"]}"#))),
    ("DELETE /api/59/jobs/delete?idlist={j}", Refused, None),
    ("GET /api/59/job/{j}", Denied, None),
    ("DELETE /api/59/job/{j}", Denied, None),
    ("GET /api/59/job/{j}/info", Denied, None),
    ("GET /api/59/job/{j}/forecast", Denied, None),
    ("POST /api/59/job/{j}/run", Denied, Some((JSON, r#"{"options":{"x":"y"}}"#))),
    ("GET /api/59/job/{j}/executions", Denied, None),
    ("POST /api/59/job/{j}/executions", Denied, Some((JSON, "{}"))),
    ("POST /api/59/job/{j}/retry/{e}", Denied, Some((JSON, "{}"))),
    ("POST /api/59/job/{j}/execution/enable", Denied, None),
    ("POST /api/59/job/{j}/execution/disable", Denied, None),
    ("POST /api/59/job/{j}/schedule/enable", Denied, None),
    ("POST /api/59/job/{j}/schedule/disable", Denied, None),
    // executions
    ("GET /api/59/execution/{e}", Denied, None),
    ("DELETE /api/59/execution/{e}", Denied, None),
    ("GET /api/59/execution/{e}/state", Denied, None),
    ("GET /api/59/execution/{e}/output", Denied, None),
    ("GET /api/59/execution/{e}/output/node/localhost", Denied, None),
    ("GET /api/59/execution/{e}/output/node/localhost/step/1", Denied, None),
    ("GET /api/59/execution/{e}/output/step/1", Denied, None),
    ("GET /api/59/execution/{e}/output/stream", Denied, None),
    ("POST /api/59/execution/{e}/abort", Denied, None),
    ("GET /api/59/execution/{e}/abort", Denied, None),
    ("POST /api/59/executions/delete", Refused, Some((JSON, r#"{"ids":[{e}]}"#))),
    ("GET /api/59/project/{p}/executions", Denied, None),
    ("GET /api/59/project/{p}/executions/running", Denied, None),
    ("GET /api/59/project/*/executions/running", Open, None),
    // ad-hoc
    ("POST /api/59/project/{p}/run/command", Denied, Some((JSON, r#"{"exec":"echo mine"}"#))),
    ("POST /api/59/project/{p}/run/script", Denied, Some((JSON, r#"{"script":"echo mine"}"#))),
    ("POST /api/59/project/{p}/run/url", Denied, Some((JSON, r#"{"url":"http://127.0.0.1:9/x.sh"}"#))),
    // webhooks
    ("GET /api/59/project/{p}/webhooks", Denied, None),
    ("POST /api/59/project/{p}/webhook", Denied,
        Some((JSON, r#"{"name":"mine","config":{"jobId":"{j}"}}"#))),
    ("GET /api/59/project/{p}/webhook/{h}", Denied, None),
    ("POST /api/59/project/{p}/webhook/{h}", Denied, Some((JSON, r#"{"regenAuthToken":true}"#))),
    ("DELETE /api/59/project/{p}/webhook/{h}", Denied, None),
    ("POST /api/59/webhook/not-the-webhook-token", Denied, Some((JSON, "{}"))),
    // project configuration, nodes, metrics, audit
    ("GET /api/59/project/{p}/config", Denied, None),
    ("PUT /api/59/project/{p}/config", Denied, Some((JSON, "{}"))),
    ("GET /api/59/project/{p}/config/secret.key", Denied, None),
    ("PUT /api/59/project/{p}/config/secret.key", Denied, Some((JSON, r#"{"value":"x"}"#))),
    ("DELETE /api/59/project/{p}/config/secret.key", Denied, None),
    ("GET /api/59/project/{p}/resources", Denied, None),
    ("GET /api/59/project/{p}/resource/secret-node", Denied, None),
    ("GET /api/59/project/{p}/sources", Denied, None),
    ("GET /api/59/metrics/metrics", Denied, None),
    ("GET /api/59/system/audit", Denied, None),
    ("GET /metrics", Denied, None),
    // ACL policies
    ("GET /api/59/system/acl/", Denied, None),
    ("GET /api/59/system/acl", Denied, None),
    ("GET /api/59/system/acl/secret-policy-name.aclpolicy", Denied, None),
    ("POST /api/59/system/acl/mine.aclpolicy", Denied, Some((YAML, POLICY))),
    ("PUT /api/59/system/acl/secret-policy-name.aclpolicy", Denied, Some((YAML, POLICY))),
    ("DELETE /api/59/system/acl/secret-policy-name.aclpolicy", Denied, None),
    ("GET /api/59/project/{p}/acl", Denied, None),
    ("GET /api/59/project/{p}/acl/", Denied, None),
    ("GET /api/59/project/{p}/acl/p-secret.aclpolicy", Denied, None),
    ("POST /api/59/project/{p}/acl/mine.aclpolicy", Denied,
        Some((YAML, "description: test\nfor: {job: [{allow: '*'}]}\nby: {group: dev}\n"))),
    ("PUT /api/59/project/{p}/acl/p-secret.aclpolicy", Denied, Some((YAML, POLICY))),
    ("DELETE /api/59/project/{p}/acl/p-secret.aclpolicy", Denied, None),
    // tokens
    ("GET /api/59/tokens", Open, None),
    ("POST /api/59/tokens", Denied, Some((JSON, r#"{"user":"nobody","roles":["dev"]}"#))),
    ("GET /api/59/tokens/secret-user", Denied, None),
    ("POST /api/59/tokens/root", Denied, Some((JSON, r#"{"roles":["admin"]}"#))),
    ("GET /api/59/token/{t}", Denied, None),
    ("DELETE /api/59/token/{t}", Denied, None),
    // key storage
    ("GET /api/59/storage/keys", Denied, None),
    ("GET /api/59/storage/keys/", Denied, None),
    ("GET /api/59/storage/keys/secret-dir/", Denied, None),
    ("GET /api/59/storage/keys/secret-dir/key.pass", Denied, None),
    ("POST /api/59/storage/keys/mine.pub", Denied, Some(("application/pgp-keys", "ssh-ed25519 A"))),
    ("PUT /api/59/storage/keys/secret-dir/key.pass", Denied,
        Some(("application/x-rundeck-data-password", "x"))),
    ("DELETE /api/59/storage/keys/secret-dir/key.pass", Denied, None),
    // users, an unknown route
    ("GET /api/59/user/info", Open, None),
    ("GET /api/59/user/info/root", Denied, None),
    ("GET /api/59/user/list", Denied, None),
    ("GET /api/59/user/list/", Denied, None),
    ("GET /api/59/no/such/route", Denied, None),
    // issue 19 item 8: Rundeck's metrics servlet at the root
    ("GET /metrics/metrics", Denied, None),
    ("GET /metrics/ping", Denied, None),
    ("GET /metrics/healthcheck", Denied, None),
    ("GET /metrics/threads", Denied, None),
    // issue 19 item 9: project- and job-level routes
    ("GET /api/59/job/{j}/workflow", Denied, None),
    ("GET /api/59/job/{j}/meta", Denied, None),
    ("GET /api/59/project/{p}/jobs/browse", Denied, None),
    ("GET /api/59/project/{p}/meta", Denied, None),
    ("POST /api/59/jobs/execution/enable", Refused, Some((JSON, r#"{"ids":["{j}"]}"#))),
    ("POST /api/59/jobs/execution/disable?idlist={j}", Refused, None),
    ("POST /api/59/jobs/schedule/enable", Refused, Some((JSON, r#"{"idlist":"{j}"}"#))),
    ("POST /api/59/jobs/schedule/disable?ids={j}", Refused, None),
    ("DELETE /api/59/job/{j}/executions", Denied, None),
    ("GET /api/59/execution/{e}/output/state", Denied, None),
    ("GET /api/59/project/{p}/source/1", Denied, None),
    ("GET /api/59/project/{p}/source/1/resources", Denied, None),
    ("GET /api/59/project/{p}/readme.md", Denied, None),
    ("PUT /api/59/project/{p}/readme.md", Denied, Some(("text/plain", "mine"))),
    ("DELETE /api/59/project/{p}/readme.md", Denied, None),
    ("GET /api/59/project/{p}/motd.md", Denied, None),
    ("PUT /api/59/project/{p}/motd.md", Denied, Some((JSON, r#"{"contents":"mine"}"#))),
    ("DELETE /api/59/project/{p}/motd.md", Denied, None),
    // the OpenAPI document: what exists, to any authenticated caller
    ("GET /api/59/openapi.json", Open, None),
    // issue 19 item 9, system-level routes (sysroutes)
    ("GET /api/59/metrics", Denied, None),
    ("GET /api/59/metrics/", Denied, None),
    ("GET /api/59/metrics/threads", Denied, None),
    ("POST /api/59/system/executions/enable", Denied, None),
    ("POST /api/59/system/executions/disable", Denied, None),
    ("GET /api/59/system/executions/status", Denied, None),
    ("GET /api/59/plugin/list", Denied, None),
    ("GET /api/59/feature", Open, None),
    ("GET /api/59/feature/", Open, None),
    ("GET /api/59/feature/runner", Open, None),
    ("GET /api/59/scheduler/jobs", Open, None),
    ("GET /api/59/scheduler/server/00000000-0000-4000-8000-000000000000/jobs", Open, None),
    ("GET /api/59/user/roles", Open, None),
    ("POST /api/59/user/info", Open, Some((JSON, r#"{"firstName":"Mine"}"#))),
    ("GET /api/59/user/info/", Open, None),
    ("POST /api/59/user/info/", Open, Some((JSON, r#"{"lastName":"Mine"}"#))),
    ("POST /api/59/user/info/root", Denied, Some((JSON, r#"{"firstName":"Mine"}"#))),
    ("POST /api/59/tokens/secret-user/removeExpired", Denied, None),
    ("GET /api/59/executions/metrics", Open, None),
    ("GET /api/59/project/{p}/executions/metrics", Denied, None),
    // issue 19 item 9: log storage, execution input files
    ("GET /api/59/system/logstorage", Denied, None),
    ("GET /api/59/execution/{e}/input/files", Denied, None),
    // issue 19 item 9: project archives
    ("GET /api/59/project/{p}/export", Denied, None),
    ("POST /api/59/project/{p}/export", Denied,
        Some(("application/x-www-form-urlencoded", "executionIds={e}"))),
    ("GET /api/59/project/{p}/export/async", Denied, None),
    ("GET /api/59/project/{p}/export/status/00000000-0000-4000-8000-000000000000", Denied, None),
    ("GET /api/59/project/{p}/export/download/00000000-0000-4000-8000-000000000000", Denied, None),
    ("PUT /api/59/project/{p}/import", Denied, Some(("application/zip", "PK"))),
    // form login with a wrong password, logout
    ("POST /j_security_check", Redirect("/user/error"),
        Some(("application/x-www-form-urlencoded", "j_username=root&j_password=wrong"))),
    ("GET /user/logout", Redirect("/user/loggedout"), None),
    ("POST /user/logout", Redirect("/user/loggedout"), None),
    // the web UI: pages need a session (an API token is none), the login
    // page and the UI's files are everyone's
    ("GET /", Redirect("/user/login"), None),
    ("GET /menu/home", Redirect("/user/login"), None),
    ("GET /user/profile", Redirect("/user/login"), None),
    ("POST /user/profile/tokens", Redirect("/user/login"),
        Some(("application/x-www-form-urlencoded", "roles=admin&user=root"))),
    ("POST /user/profile/tokens/{t}/delete", Redirect("/user/login"), None),
    ("GET /project/{p}/jobs", Redirect("/user/login"), None),
    ("GET /project/{p}/job/show/{j}", Redirect("/user/login"), None),
    ("GET /user/login", Public, None),
    ("GET /user/error", Public, None),
    ("GET /user/loggedout", Public, None),
    ("GET {css}", Public, None),
    ("GET {js}", Public, None),
];

/// Every route of the router, aimed at `t`.
pub(super) fn routes(t: &Target) -> Vec<Route> {
    let fill = |s: &str| {
        s.replace("{p}", t.project)
            .replace("{j}", t.job)
            .replace("{e}", &t.exec.to_string())
            .replace("{h}", t.hook)
            .replace("{t}", t.token_id)
            .replace("{css}", &crate::ui::css_url())
            .replace("{js}", &crate::ui::js_url())
    };
    TABLE
        .iter()
        .map(|(line, expect, body)| {
            let (method, uri) = line.split_once(' ').unwrap();
            Route {
                method: method.parse().unwrap(),
                uri: fill(uri),
                body: body.map(|(ctype, b)| (ctype, fill(b))),
                expect: *expect,
            }
        })
        .collect()
}

/// The source of every module whose route functions `lib.rs` merges, by
/// module name.
const ROUTE_SOURCES: &[(&str, &str)] = &[
    ("acl", include_str!("../acl.rs")),
    ("adhoc", include_str!("../adhoc.rs")),
    ("api", include_str!("../api.rs")),
    ("ui", include_str!("../ui/mod.rs")),
    ("audit", include_str!("../audit.rs")),
    ("executions", include_str!("../executions/mod.rs")),
    ("jobs", include_str!("../jobs/mod.rs")),
    ("metrics", include_str!("../metrics.rs")),
    ("openapi", include_str!("../openapi/mod.rs")),
    ("project_archive", include_str!("../project_archive/mod.rs")),
    ("project_config", include_str!("../project_config.rs")),
    ("project_files", include_str!("../project_files.rs")),
    ("plugins", include_str!("../plugins.rs")),
    ("projects", include_str!("../projects.rs")),
    ("resources", include_str!("../resources.rs")),
    ("scheduler_jobs", include_str!("../scheduler_jobs.rs")),
    ("session", include_str!("../session.rs")),
    ("storage", include_str!("../storage.rs")),
    ("system", include_str!("../system.rs")),
    ("system_mode", include_str!("../system_mode.rs")),
    ("tokens", include_str!("../tokens.rs")),
    ("users", include_str!("../users.rs")),
    ("webhooks", include_str!("../webhooks.rs")),
];

/// The routes [`router`](crate::router) registers: those of `lib.rs` and
/// of every `module::name()` route function it calls (each must be found
/// in [`ROUTE_SOURCES`]).
pub(crate) fn registered_routes() -> Vec<(String, String)> {
    let lib = include_str!("../lib.rs");
    let mut out = routes_in(lib);
    let words = lib.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'));
    for word in words.filter(|w| w.ends_with("routes") && w.contains("::")) {
        let (module, function) = word.split_once("::").unwrap();
        let src = ROUTE_SOURCES
            .iter()
            .find(|(m, _)| *m == module)
            .map(|(_, s)| *s)
            .unwrap_or_else(|| panic!("lib.rs merges {word}: add {module} to ROUTE_SOURCES"));
        let head = format!("fn {function}() -> Router<ApiState> {{");
        let start = src
            .find(&head)
            .unwrap_or_else(|| panic!("{module} has no `{head}`"));
        let body = &src[start..];
        let end = body.find("\n}\n").unwrap();
        out.extend(routes_in(&body[..end]));
    }
    out
}

/// The (method, path) of the `.route(...)` calls in `src`, `ANY` for
/// `any(...)`.
fn routes_in(src: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for chunk in src.split(".route(").skip(1) {
        let mut depth = 1;
        let end = chunk
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map(|(i, _)| i)
            .unwrap();
        let call = &chunk[..end];
        let mut parts = call.splitn(3, '"');
        let path = parts.nth(1).unwrap().to_owned();
        let handlers = parts.next().unwrap();
        for m in ["get", "post", "put", "delete", "any"] {
            // `get(` as a method router, not `jobs::get` (a handler)
            let called = handlers.match_indices(&format!("{m}(")).any(|(i, _)| {
                !handlers[..i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            if called {
                out.push((m.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// Whether `uri` matches the route `pattern` (`{x}` one non-empty segment,
/// `{*x}` the non-empty rest).
fn matches(pattern: &str, uri: &str) -> bool {
    let path = uri.split('?').next().unwrap_or_default();
    let u: Vec<&str> = path.split('/').collect();
    for (i, seg) in pattern.split('/').enumerate() {
        if seg.starts_with("{*") {
            return u.len() > i && !u[i..].concat().is_empty();
        }
        match u.get(i) {
            None => return false,
            Some(s) if seg.starts_with('{') && s.is_empty() => return false,
            Some(s) if !seg.starts_with('{') && seg != *s => return false,
            Some(_) => {}
        }
    }
    pattern.split('/').count() == u.len()
}

/// The route `uri` goes to: static segments beat `{x}`, which beats `{*x}`.
fn resolve<'a>(routes: &'a [(String, String)], method: &Method, uri: &str) -> Option<&'a str> {
    routes
        .iter()
        .filter(|(m, p)| (m == method.as_str() || m == "ANY") && matches(p, uri))
        .min_by_key(|(_, p)| (p.matches("{*").count(), p.matches('{').count()))
        .map(|(_, p)| p.as_str())
}

#[test]
fn the_sweep_covers_every_route() {
    let registered = registered_routes();
    assert!(registered.len() >= 80, "{registered:?}");
    for probe in [
        ("POST", "/api/{v}/webhook/{token}"),
        ("GET", "/metrics"),
        ("DELETE", "/api/{v}/storage/keys/{*path}"),
        ("ANY", "/api/{v}/{*rest}"),
    ] {
        assert!(
            registered.contains(&(probe.0.to_owned(), probe.1.to_owned())),
            "{probe:?} in {registered:?}"
        );
    }
    let table = routes(&Target {
        project: "p",
        job: "j",
        exec: 1,
        hook: "h",
        token_id: "t",
    });
    let covered: Vec<(&str, &str)> = table
        .iter()
        .filter_map(|r| resolve(&registered, &r.method, &r.uri).map(|p| (r.method.as_str(), p)))
        .collect();
    for (m, p) in &registered {
        assert!(
            covered
                .iter()
                .any(|(cm, cp)| cp == p && (cm == m || m == "ANY")),
            "{m} {p} is registered in lib.rs but not in the sweep's route table"
        );
    }
    // and every entry of the table goes to a route
    for r in &table {
        assert!(
            resolve(&registered, &r.method, &r.uri).is_some(),
            "{} {} matches no registered route",
            r.method,
            r.uri
        );
    }
}
