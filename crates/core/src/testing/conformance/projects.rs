//! Conformance tests: projects and their nodes.

use super::support::{event, execution, is_conflict, is_not_found, job, revision, t0, S};
use crate::model::{Node, Project};
use crate::store::prelude::*;
use crate::store::ExecutionQuery;

/// Projects: create (a conflict when taken), read, update, list, with names
/// compared exactly.
pub async fn projects(s: S) {
    let mut p = Project::new("ops");
    p.description = Some("Opérations ✓ \"prod\"".into());
    p.config
        .insert("project.label".into(), "Öps 日本 'x'".into());
    p.config
        .insert("resources.source.1.type".into(), "file".into());
    p.readme = Some("# Ops ✓\n\nRead *me*.".into());
    s.create_project(&p).await.unwrap();
    assert!(is_conflict(s.create_project(&p).await));
    assert!(is_conflict(s.create_project(&Project::new("ops")).await));
    assert_eq!(s.get_project("ops").await.unwrap(), Some(p.clone()));
    assert_eq!(
        s.get_project("OPS").await.unwrap(),
        None,
        "names are case-sensitive"
    );
    assert_eq!(s.get_project("nope").await.unwrap(), None);

    for n in ["beta", "Zeta", "alpha", "OPS"] {
        s.create_project(&Project::new(n)).await.unwrap();
    }
    let listed: Vec<String> = s
        .list_projects()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(listed, ["OPS", "Zeta", "alpha", "beta", "ops"]);

    p.description = None;
    p.config.clear();
    p.config.insert("a".into(), "b".into());
    // the project files change with the rest
    p.readme = None;
    p.motd = Some("today: 日本 'x'".into());
    s.update_project(&p).await.unwrap();
    s.update_project(&p).await.unwrap(); // unchanged values are fine too
    assert_eq!(s.get_project("ops").await.unwrap(), Some(p));
    assert!(is_not_found(s.update_project(&Project::new("nope")).await));
    assert!(is_not_found(s.delete_project("nope").await));
    s.delete_project("beta").await.unwrap();
    assert_eq!(s.get_project("beta").await.unwrap(), None);
    assert_eq!(s.list_projects().await.unwrap().len(), 4);
}

/// Deleting a project deletes its nodes, jobs, executions and logs, and nothing
/// of other projects.
pub async fn delete_project_cascades(s: S) {
    let mut eids = Vec::new();
    let mut jids = Vec::new();
    for p in ["ops", "dev"] {
        s.create_project(&Project::new(p)).await.unwrap();
        s.replace_nodes(p, "file", &[Node::new("n1")])
            .await
            .unwrap();
        let j = s.put_job(p, &job("deploy", Some("web"))).await.unwrap();
        let id = s
            .create_execution(&execution(p, Some(&j), "alice", t0()))
            .await
            .unwrap();
        s.append_log(id, &[event(0, "hello")]).await.unwrap();
        eids.push(id);
        jids.push(j.uuid.unwrap());
    }
    let before = revision(&s, "ops").await;
    s.delete_project("ops").await.unwrap();
    // raised, not reset: a list kept from before must not match again
    assert!(revision(&s, "ops").await > before);
    assert_eq!(s.get_project("ops").await.unwrap(), None);
    assert!(s.list_nodes("ops").await.unwrap().is_empty());
    assert_eq!(s.get_job("ops", &jids[0]).await.unwrap(), None);
    assert_eq!(s.get_execution(eids[0]).await.unwrap(), None);
    assert!(is_not_found(s.read_log(eids[0], 0, 10).await));
    // The other project is untouched.
    assert_eq!(s.list_nodes("dev").await.unwrap().len(), 1);
    assert!(s.get_job("dev", &jids[1]).await.unwrap().is_some());
    assert!(s.get_execution(eids[1]).await.unwrap().is_some());
    assert_eq!(s.read_log(eids[1], 0, 10).await.unwrap().events.len(), 1);
    // A project of the same name starts empty.
    s.create_project(&Project::new("ops")).await.unwrap();
    let again = revision(&s, "ops").await;
    s.put_job("ops", &job("deploy", Some("web"))).await.unwrap();
    assert!(revision(&s, "ops").await > again);
    let q = ExecutionQuery {
        project: Some("ops".into()),
        ..Default::default()
    };
    assert_eq!(s.query_executions(&q).await.unwrap().total, 0);
}

/// Nodes: each source's nodes replaced as a whole, merged by source name order,
/// sorted by node name.
pub async fn nodes(s: S) {
    assert!(s.list_nodes("ops").await.unwrap().is_empty());
    let web_b = Node::new("web1")
        .with("hostname", "10.0.0.1")
        .with_tags(["web", "prod"]);
    let db = Node::new("db1")
        .with("hostname", "db.example")
        .with("osFamily", "unix");
    s.replace_nodes("ops", "b-source", &[web_b.clone(), db.clone()])
        .await
        .unwrap();
    let web_a = Node::new("web1").with("hostname", "old.example");
    let app = Node::new("app-ü")
        .with("description", "Ünïcødé 🚀 \"q\" \\ back\nslash")
        .with("username", "déploy");
    s.replace_nodes("ops", "a-source", &[web_a.clone(), app.clone()])
        .await
        .unwrap();
    s.replace_nodes("other", "a-source", &[Node::new("elsewhere")])
        .await
        .unwrap();

    // Sources in name order, the later one wins; sorted by node name.
    let got = s.list_nodes("ops").await.unwrap();
    assert_eq!(got, vec![app.clone(), db.clone(), web_b.clone()]);

    // Replacing a source drops what it no longer lists.
    s.replace_nodes("ops", "b-source", std::slice::from_ref(&db))
        .await
        .unwrap();
    assert_eq!(
        s.list_nodes("ops").await.unwrap(),
        vec![app.clone(), db.clone(), web_a.clone()]
    );
    s.replace_nodes("ops", "a-source", &[]).await.unwrap();
    assert_eq!(s.list_nodes("ops").await.unwrap(), vec![db.clone()]);

    // Within one source the last node of a name wins.
    let n1 = Node::new("n").with("v", "1");
    let n2 = Node::new("n").with("v", "2");
    s.replace_nodes("dup", "s", &[n1, n2.clone()])
        .await
        .unwrap();
    assert_eq!(s.list_nodes("dup").await.unwrap(), vec![n2]);

    // Many nodes (more than one insert batch).
    let many: Vec<Node> = (0..1200)
        .map(|i| {
            Node::new(format!("host{i:04}"))
                .with("hostname", format!("127.0.{}.{}", i / 250, i % 250))
        })
        .collect();
    s.replace_nodes("big", "gen", &many).await.unwrap();
    assert_eq!(s.list_nodes("big").await.unwrap(), many);
    assert_eq!(s.list_nodes("other").await.unwrap().len(), 1);
}
