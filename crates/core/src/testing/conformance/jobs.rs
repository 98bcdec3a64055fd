//! Conformance tests: jobs and job queries.

use super::support::{execution, is_conflict, is_not_found, job, listed, names, revision, t0, S};
use crate::store::prelude::*;
use crate::store::JobQuery;

/// Jobs: put (uuid assigned, name unique in its group), get, find, delete,
/// uuids unique across projects, the job revision.
pub async fn jobs(s: S) {
    let mut j = job("deploy", Some("web/prod"));
    j.description = "Déploie l'appli ✓\nsecond line: \"quoted\"".into();
    let r0 = revision(&s, "ops").await;
    let stored = s.put_job("ops", &j).await.unwrap();
    let r1 = revision(&s, "ops").await;
    assert!(r1 > r0, "a new job raises the revision");
    let id = stored.uuid.clone().expect("uuid assigned");
    assert_eq!(stored.project.as_deref(), Some("ops"));
    assert_eq!(s.get_job("ops", &id).await.unwrap(), Some(stored.clone()));
    assert_eq!(s.get_job("other", &id).await.unwrap(), None);
    assert_eq!(s.get_job("ops", "missing").await.unwrap(), None);

    // Same group and name under another uuid: a conflict.
    assert!(is_conflict(s.put_job("ops", &j).await));
    let mut dup = j.clone();
    dup.uuid = Some("2b1b2f0a-0000-4000-8000-000000000001".into());
    assert!(is_conflict(s.put_job("ops", &dup).await));
    assert_eq!(
        revision(&s, "ops").await,
        r1,
        "a refused job changes nothing"
    );
    // The same name in another group or project is fine.
    let other_group = s.put_job("ops", &job("deploy", Some("web"))).await.unwrap();
    let r2 = revision(&s, "ops").await;
    let other_project = s.put_job("dev", &j).await.unwrap();
    assert_ne!(other_project.uuid, stored.uuid);
    assert_eq!(revision(&s, "ops").await, r2, "another project's change");

    // Replace by uuid, including a rename.
    let mut changed = stored.clone();
    changed.description = "changed".into();
    changed.name = "deploy2".into();
    let again = s.put_job("ops", &changed).await.unwrap();
    assert_eq!(again, changed);
    let r3 = revision(&s, "ops").await;
    assert!(r3 > r2, "a replaced job raises the revision");
    assert_eq!(s.get_job("ops", &id).await.unwrap(), Some(changed.clone()));
    assert_eq!(
        s.find_job("ops", Some("web/prod"), "deploy").await.unwrap(),
        None
    );
    assert_eq!(
        s.find_job("ops", Some("web/prod"), "deploy2")
            .await
            .unwrap(),
        Some(changed.clone())
    );
    // The old name is free again.
    s.put_job("ops", &j).await.unwrap();

    // A given uuid is kept.
    let mut fixed = job("top", None);
    fixed.uuid = Some("c0ffee00-0000-4000-8000-00000000000f".into());
    let top = s.put_job("ops", &fixed).await.unwrap();
    assert_eq!(top.uuid, fixed.uuid);
    assert_eq!(
        s.find_job("ops", None, "top").await.unwrap(),
        Some(top.clone())
    );
    assert_eq!(
        s.find_job("ops", Some(""), "top").await.unwrap(),
        Some(top.clone())
    );
    assert_eq!(s.find_job("ops", Some("web"), "top").await.unwrap(), None);
    assert_eq!(s.find_job("ops", None, "TOP").await.unwrap(), None);

    // Delete: gone, executions stay.
    let eid = s
        .create_execution(&execution("ops", Some(&other_group), "bob", t0()))
        .await
        .unwrap();
    let ogid = other_group.uuid.clone().unwrap();
    let r4 = revision(&s, "ops").await;
    s.delete_job("ops", &ogid).await.unwrap();
    let r5 = revision(&s, "ops").await;
    assert!(r5 > r4, "a deleted job raises the revision");
    assert_eq!(s.get_job("ops", &ogid).await.unwrap(), None);
    assert!(is_not_found(s.delete_job("ops", &ogid).await));
    assert_eq!(revision(&s, "ops").await, r5, "reads and refusals do not");
    assert!(is_not_found(s.delete_job("dev", &id).await));
    assert!(s.get_execution(eid).await.unwrap().is_some());
}

/// Job queries: by group path, exact group, name text and exact name, and by
/// uuids.
pub async fn job_queries(s: S) {
    let specs: [(&str, Option<&str>); 8] = [
        ("a", None),
        ("B", Some("ops")),
        ("Éclair", Some("ops")),
        ("c", Some("ops/db")),
        ("d", Some("opsx")),
        ("e", Some("OPS")),
        ("f", Some("a_b/c")),
        ("g", Some("a%b")),
    ];
    let mut ids = Vec::new();
    for (n, g) in specs {
        ids.push(s.put_job("ops", &job(n, g)).await.unwrap().uuid.unwrap());
    }
    s.put_job("dev", &job("zz", Some("ops"))).await.unwrap();
    let q = |f: fn(&mut JobQuery)| {
        let mut q = JobQuery::default();
        f(&mut q);
        q
    };
    let all = listed(&s, "ops", &JobQuery::default()).await;
    // By group then name (no group first), byte order.
    assert_eq!(names(&all), ["a", "e", "g", "f", "B", "Éclair", "c", "d"]);
    let got = listed(&s, "ops", &q(|q| q.group_path = Some("ops".into()))).await;
    assert_eq!(names(&got), ["B", "Éclair", "c"]);
    let got = listed(&s, "ops", &q(|q| q.group_path = Some("".into()))).await;
    assert_eq!(got.len(), 8);
    let got = listed(&s, "ops", &q(|q| q.group_path = Some("a_b".into()))).await;
    assert_eq!(names(&got), ["f"]);
    let got = listed(&s, "ops", &q(|q| q.group_path = Some("a".into()))).await;
    assert!(got.is_empty());
    let got = listed(&s, "ops", &q(|q| q.group_exact = Some("ops".into()))).await;
    assert_eq!(names(&got), ["B", "Éclair"]);
    let got = listed(&s, "ops", &q(|q| q.group_exact = Some("".into()))).await;
    assert_eq!(names(&got), ["a"]);
    let got = listed(&s, "ops", &q(|q| q.name_contains = Some("b".into()))).await;
    assert_eq!(names(&got), ["B"]);
    let got = listed(&s, "ops", &q(|q| q.name_contains = Some("éCL".into()))).await;
    assert_eq!(names(&got), ["Éclair"]);
    let got = listed(&s, "ops", &q(|q| q.name_contains = Some("%".into()))).await;
    assert!(got.is_empty());
    let got = listed(&s, "ops", &q(|q| q.name_exact = Some("b".into()))).await;
    assert!(got.is_empty());
    let got = listed(&s, "ops", &q(|q| q.name_exact = Some("B".into()))).await;
    assert_eq!(names(&got), ["B"]);
    let query = JobQuery {
        ids: vec![ids[3].clone(), "missing".into(), ids[0].clone()],
        ..Default::default()
    };
    assert_eq!(names(&listed(&s, "ops", &query).await), ["a", "c"]);
    let query = JobQuery {
        group_path: Some("ops".into()),
        name_contains: Some("C".into()),
        ..Default::default()
    };
    assert_eq!(names(&listed(&s, "ops", &query).await), ["Éclair", "c"]);
    assert!(listed(&s, "nope", &JobQuery::default()).await.is_empty());
}
