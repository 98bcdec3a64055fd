#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::store::prelude::*;
use crate::MemoryStore;
use std::path::Path;
use std::time::Duration;

fn server() -> Node {
    Node::new("localhost")
        .with("hostname", "localhost")
        .with("node-executor", "local")
}

async fn setup(config: &[(&str, String)]) -> (Arc<MemoryStore>, NodeSources, Project) {
    let store = Arc::new(MemoryStore::new());
    let mut p = Project::new("ops");
    for (k, v) in config {
        p.config.insert((*k).to_owned(), v.clone());
    }
    store.create_project(&p).await.unwrap();
    let sources = NodeSources::new(store.clone(), server());
    (store, sources, p)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn names(nodes: &[Node]) -> Vec<&str> {
    nodes.iter().map(|n| n.name.as_str()).collect()
}

#[tokio::test]
async fn later_sources_override_and_the_server_node_is_always_there() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.yaml",
        "web1: {hostname: a-web1, tags: web}\ndb1: {hostname: a-db1}\n",
    );
    let b = write(
        dir.path(),
        "b.json",
        r#"{"web1": {"hostname": "b-web1"}, "localhost": {"hostname": "127.0.0.1"}}"#,
    );
    let (_, sources, p) = setup(&[
        ("resources.source.1.type", "file".into()),
        ("resources.source.1.config.file", a),
        ("resources.source.2.type", "file".into()),
        ("resources.source.2.config.file", b),
        ("resources.source.3.type", "script".into()),
        (
            "resources.source.3.config.command",
            "printf 'app1:\\n  hostname: s-app1\\n'".into(),
        ),
    ])
    .await;
    let report = sources.refresh(&p).await.unwrap();
    assert_eq!(report.errors, vec![]);
    assert_eq!(report.stored, vec![(1, 2), (2, 2), (3, 1)]);
    let nodes = sources.nodes("ops").await.unwrap();
    assert_eq!(names(&nodes), ["app1", "db1", "localhost", "web1"]);
    let get = |n: &str| nodes.iter().find(|x| x.name == n).unwrap().clone();
    assert_eq!(get("web1").hostname(), Some("b-web1"));
    assert_eq!(get("db1").hostname(), Some("a-db1"));
    // A source may redefine the server node.
    assert_eq!(get("localhost").hostname(), Some("127.0.0.1"));

    // No source at all: the server node alone.
    let (_, sources, _) = setup(&[]).await;
    assert_eq!(names(&sources.nodes("ops").await.unwrap()), ["localhost"]);
    assert!(sources.nodes("nope").await.is_err());
}

/// Each failure keeps the nodes the source stored before, and says which
/// source failed and why.
#[tokio::test]
async fn failing_sources_keep_their_last_good_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "n.yaml", "web1: {hostname: h1}\n");
    let script = write(dir.path(), "gen.sh", "#!/bin/sh\ncat \"$1\"\n");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let script_out = write(dir.path(), "out.yaml", "app1: {hostname: a1}\n");
    let (store, sources, p) = setup(&[
        ("resources.source.1.type", "file".into()),
        ("resources.source.1.config.file", file.clone()),
        ("resources.source.2.type", "script".into()),
        ("resources.source.2.config.file", script.clone()),
        ("resources.source.2.config.args", script_out.clone()),
    ])
    .await;
    let sources = sources.with_limits(LoadLimits {
        script_timeout: Duration::from_millis(500),
        max_bytes: 64 * 1024,
    });
    assert_eq!(sources.refresh(&p).await.unwrap().errors, vec![]);
    let good = vec!["app1", "localhost", "web1"];
    assert_eq!(names(&store.list_nodes("ops").await.unwrap()), good);

    let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
    type Breaker = Box<dyn Fn()>;
    let cases: Vec<(&str, Breaker, &str)> = vec![
        (
            "malformed yaml",
            Box::new({
                let f = file.clone();
                move || {
                    std::fs::write(&f, "web1: {hostname: h1\nweb2: [").unwrap();
                }
            }),
            "node source resources.source.1: ",
        ),
        (
            "yaml bomb",
            Box::new({
                let f = file.clone();
                move || std::fs::write(&f, bomb).unwrap()
            }),
            "repetition limit exceeded",
        ),
        (
            "missing file",
            Box::new({
                let f = file.clone();
                move || std::fs::remove_file(&f).unwrap()
            }),
            "cannot open",
        ),
        (
            "file too large",
            Box::new({
                let f = file.clone();
                move || std::fs::write(&f, "x".repeat(70 * 1024)).unwrap()
            }),
            "larger than 65536 bytes",
        ),
        (
            "not utf-8",
            Box::new({
                let f = file.clone();
                move || std::fs::write(&f, b"web1: {hostname: \xff}\n").unwrap()
            }),
            "not UTF-8",
        ),
    ];
    for (what, break_it, expect) in cases {
        break_it();
        let report = sources.refresh(&p).await.unwrap();
        assert_eq!(report.errors.len(), 1, "{what}: {report:?}");
        let msg = report.errors[0].to_string();
        assert!(
            msg.starts_with("node source resources.source.1: ") && msg.contains(expect),
            "{what}: {msg}"
        );
        assert_eq!(report.stored, vec![(2, 1)], "{what}");
        assert_eq!(
            names(&store.list_nodes("ops").await.unwrap()),
            good,
            "{what}"
        );
        assert_eq!(sources.errors("ops"), report.errors);
    }
    std::fs::write(&file, "web1: {hostname: h1}\n").unwrap();

    let script_cases = [
        (
            "never exits",
            "#!/bin/sh\nsleep 1000\n",
            "did not finish within",
        ),
        (
            "child keeps the pipe open",
            "#!/bin/sh\n(sleep 1000 &)\necho 'a: {}'\nexec sleep 1000\n",
            "did not finish within",
        ),
        (
            "prints garbage",
            "#!/bin/sh\necho '{{{ not: [nodes'\n",
            "output of",
        ),
        (
            "prints a scalar",
            "#!/bin/sh\necho hello\n",
            "a map of node name to attributes, or a list of nodes",
        ),
        (
            "exits non-zero",
            "#!/bin/sh\necho 'inventory down' >&2\nexit 3\n",
            "exited with status 3: inventory down",
        ),
        (
            "prints too much",
            "#!/bin/sh\nyes 'n: {}'\n",
            "printed more than 65536 bytes",
        ),
    ];
    for (what, text, expect) in script_cases {
        std::fs::write(&script, text).unwrap();
        let report = sources.refresh(&p).await.unwrap();
        assert_eq!(report.errors.len(), 1, "{what}: {report:?}");
        let msg = report.errors[0].to_string();
        assert!(
            msg.starts_with("node source resources.source.2: ") && msg.contains(expect),
            "{what}: {msg}"
        );
        assert_eq!(
            names(&store.list_nodes("ops").await.unwrap()),
            good,
            "{what}"
        );
    }
}

#[tokio::test]
async fn bad_configuration_is_reported_per_source() {
    let (store, sources, p) = setup(&[
        ("resources.source.1.type", "url".into()),
        ("resources.source.2.type", "file".into()),
        ("resources.source.2.config.file", "../etc/passwd".into()),
        ("resources.source.3.type", "script".into()),
        (
            "resources.source.3.config.command",
            "echo 'x: {hostname: y}'".into(),
        ),
    ])
    .await;
    let report = sources.refresh(&p).await.unwrap();
    let msgs: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        msgs,
        [
            "node source resources.source.1: resources.source.1.type: unsupported source type \"url\" (supported: file, script)",
            "node source resources.source.2: resources.source.2.config.file: \"../etc/passwd\" must be an absolute path",
        ]
    );
    assert_eq!(
        names(&store.list_nodes("ops").await.unwrap()),
        ["localhost", "x"]
    );
}

#[tokio::test(start_paused = true)]
async fn the_cache_refreshes_after_its_delay() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "n.yaml", "web1: {}\n");
    let (_, sources, _) = setup(&[
        ("resources.source.1.type", "file".into()),
        ("resources.source.1.config.file", file.clone()),
        ("project.nodeCache.delay", "60".into()),
    ])
    .await;
    assert_eq!(
        names(&sources.nodes("ops").await.unwrap()),
        ["localhost", "web1"]
    );
    std::fs::write(&file, "web2: {}\n").unwrap();
    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(
        names(&sources.nodes("ops").await.unwrap()),
        ["localhost", "web1"]
    );
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(
        names(&sources.nodes("ops").await.unwrap()),
        ["localhost", "web2"]
    );

    // With the cache off every read goes to the source.
    let (_, sources, _) = setup(&[
        ("resources.source.1.type", "file".into()),
        ("resources.source.1.config.file", file.clone()),
        ("project.nodeCache.enabled", "false".into()),
    ])
    .await;
    assert_eq!(
        names(&sources.nodes("ops").await.unwrap()),
        ["localhost", "web2"]
    );
    std::fs::write(&file, "web3: {}\n").unwrap();
    assert_eq!(
        names(&sources.nodes("ops").await.unwrap()),
        ["localhost", "web3"]
    );
}

#[tokio::test]
async fn a_configuration_change_drops_removed_and_broken_sources() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.yaml", "web1: {}\n");
    let b = write(dir.path(), "b.yaml", "db1: {}\n");
    let (store, sources, p) = setup(&[
        ("resources.source.1.type", "file".into()),
        ("resources.source.1.config.file", a.clone()),
        ("resources.source.2.type", "file".into()),
        ("resources.source.2.config.file", b.clone()),
    ])
    .await;
    sources.refresh(&p).await.unwrap();
    assert_eq!(
        names(&store.list_nodes("ops").await.unwrap()),
        ["db1", "localhost", "web1"]
    );
    // Source 2 removed, source 1 pointed at a file that does not exist.
    let mut q = p.clone();
    q.config.remove("resources.source.2.type");
    q.config.remove("resources.source.2.config.file");
    q.config.insert(
        "resources.source.1.config.file".into(),
        dir.path()
            .join("missing.yaml")
            .to_string_lossy()
            .into_owned(),
    );
    let report = sources.config_changed(&p.config, &q).await.unwrap();
    assert_eq!(report.errors.len(), 1);
    assert_eq!(
        names(&store.list_nodes("ops").await.unwrap()),
        ["localhost"]
    );
}
