//! `.aclpolicy` parsing, validation and decisions, with the examples of
//! Rundeck's documentation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::authorizer::{AuthContext, Authorizer, Decision, Resource, Subject};
use crate::{AclPolicy, MemoryStore, Project, Store};
use std::sync::Arc;

fn rules(files: &[(&str, &str)]) -> AclRules {
    AclRules::new(
        files
            .iter()
            .map(|(n, t)| {
                Policy::parse(n, t, &PolicyScope::System).unwrap_or_else(|e| panic!("{e}"))
            })
            .collect(),
    )
}

fn project(p: &str) -> AuthContext {
    AuthContext::Project(p.into())
}

/// The example of Rundeck's aclpolicy reference ("The aclpolicy markup by
/// example").
const DOC_EXAMPLE: &str = r#"
description: Yaml Policy 1
context: # declares the context of the ACL
  project: '.*' # applies to projects matching a regex.
for:
  resource:
     - equals:
        kind: job
       allow: '*'
  job:
     - allow: '*'
     - match:
         group: 'group1/.*'
       deny: '*'
by:
    username: 'yml_usr_1'
    group: ['yml_group_1','group2']
"#;

#[test]
fn the_reference_example() {
    let r = rules(&[("example.aclpolicy", DOC_EXAMPLE)]);
    let job = |group: &str| Resource::new("job").with("name", "j").with("group", group);
    let user = Subject::new("yml_usr_1", ["nobody"]);
    let member = Subject::new("someone", ["group2"]);
    let other = Subject::new("someone", ["group3"]);
    let cases: &[(&Subject, &str, Resource, AuthContext, &str)] = &[
        (&user, "run", job("ops"), project("any"), "allow"),
        (&member, "delete", job("ops/db"), project("p1"), "allow"),
        (&user, "run", job("group1/x"), project("any"), "deny"),
        (
            &member,
            "read",
            job("group1/deep/x"),
            project("any"),
            "deny",
        ),
        // `group1` alone does not match `group1/.*`.
        (&member, "read", job("group1"), project("any"), "allow"),
        (&other, "run", job("ops"), project("any"), "reject"),
        // Project context only: nothing at the application level.
        (&user, "run", job("ops"), AuthContext::Application, "reject"),
        (
            &user,
            "create",
            Resource::new("resource").with("kind", "job"),
            project("p"),
            "allow",
        ),
        (
            &user,
            "create",
            Resource::new("resource").with("kind", "node"),
            project("p"),
            "reject",
        ),
        (
            &user,
            "run",
            Resource::new("node").with("nodename", "n"),
            project("p"),
            "reject",
        ),
    ];
    for (s, action, res, ctx, want) in cases {
        let got = match r.decide(s, action, res, ctx) {
            Decision::Allow => "allow",
            Decision::Deny(why) => {
                assert!(why.contains("example.aclpolicy[1]"), "{why}");
                "deny"
            }
            Decision::Reject => "reject",
        };
        assert_eq!(got, *want, "{} {action} {res:?} in {ctx:?}", s.user);
    }
}

#[test]
fn matching_clauses() {
    let r = rules(&[(
        "m.aclpolicy",
        r#"
description: clauses
context: {project: 'ops|dev'}
for:
  node:
    - contains: {tags: [web, prod]}
      allow: run
    - subset: {tags: [db, staging]}
      allow: read
    - equals: {nodename: bastion}
      deny: run
  job:
    - match: {name: ['deploy.*', '.*-prod']}
      allow: run
by:
  group: ops
"#,
    )]);
    let s = Subject::new("u", ["ops"]);
    let node = |name: &str, tags: &str| {
        Resource::new("node")
            .with("nodename", name)
            .with("tags", tags)
    };
    let job = |name: &str| Resource::new("job").with("name", name);
    for (action, res, ctx, want) in [
        ("run", node("a", "web, prod, eu"), project("ops"), true),
        ("run", node("a", "web"), project("ops"), false),
        ("read", node("a", "db,staging"), project("dev"), true),
        ("read", node("a", "db"), project("dev"), true),
        ("read", node("a", "db,prod"), project("dev"), false),
        ("run", node("bastion", "web,prod"), project("ops"), false),
        // The project regex is matched against the whole name.
        ("run", node("a", "web,prod"), project("ops2"), false),
        ("run", job("deploy-prod"), project("ops"), true),
        ("run", job("deploy-dev"), project("ops"), false),
        ("run", job("x-prod"), project("ops"), false),
        // A rule whose property is missing does not apply.
        (
            "run",
            Resource::new("node").with("nodename", "a"),
            project("ops"),
            false,
        ),
    ] {
        assert_eq!(
            r.allowed(&s, action, &res, &ctx),
            want,
            "{action} {res:?} {ctx:?}"
        );
    }
    assert!(matches!(
        r.decide(&s, "run", &node("bastion", "web,prod"), &project("ops")),
        Decision::Deny(_)
    ));
}

#[test]
fn by_regex_urn_and_not_by() {
    let r = rules(&[
        (
            "a.aclpolicy",
            r#"
description: devs
context: {application: rundeck}
for:
  project:
    - allow: read
by:
  username: 'dev\d+'
  urn: [user:alice, group:auditors]
"#,
        ),
        (
            "b.aclpolicy",
            r#"
description: only admins may delete
context: {application: rundeck}
for:
  project:
    - deny: delete
notBy:
  group: admin
"#,
        ),
        (
            "c.aclpolicy",
            r#"
description: leads
context: {application: rundeck}
for:
  project:
    - allow: [read, delete]
by:
  group: ['lead.*']
"#,
        ),
    ]);
    let p = Resource::new("project").with("name", "ops");
    let app = AuthContext::Application;
    let read = |s: &Subject| r.allowed(s, "read", &p, &app);
    assert!(read(&Subject::new("dev12", Vec::<String>::new())));
    assert!(!read(&Subject::new("dev", Vec::<String>::new())));
    assert!(!read(&Subject::new("xdev1", Vec::<String>::new())));
    assert!(read(&Subject::new("alice", Vec::<String>::new())));
    // A URN is exact, not a regex.
    assert!(!read(&Subject::new("alice2", Vec::<String>::new())));
    assert!(read(&Subject::new("x", ["auditors"])));
    let lead = Subject::new("x", ["leads"]);
    assert!(read(&lead));
    assert!(matches!(
        r.decide(&lead, "delete", &p, &app),
        Decision::Deny(why) if why.contains("b.aclpolicy[1]")
    ));
    let admin_lead = Subject::new("x", ["leads", "admin"]);
    assert!(r.allowed(&admin_lead, "delete", &p, &app));
}

#[test]
fn the_builtin_admin_policy_allows_the_admin_group_everything() {
    let r = rules(&[(BUILTIN_ADMIN_POLICY, BUILTIN_ADMIN_YAML)]);
    let admin = Subject::new("root", ["admin"]);
    let dev = Subject::new("admin", ["dev"]);
    for (res, ctx) in [
        (
            Resource::new("resource").with("kind", "system"),
            AuthContext::Application,
        ),
        (
            Resource::new("project").with("name", "x"),
            AuthContext::Application,
        ),
        (
            Resource::new("project_acl").with("name", "x"),
            AuthContext::Application,
        ),
        (
            Resource::new("storage").with("path", "keys/a"),
            AuthContext::Application,
        ),
        (
            Resource::new("apitoken").with("username", "u"),
            AuthContext::Application,
        ),
        (Resource::new("job").with("name", "j"), project("p")),
        (Resource::new("adhoc"), project("p")),
        (Resource::new("node").with("nodename", "n"), project("p")),
    ] {
        for action in ["read", "create", "delete", "run", "admin"] {
            assert!(admin.groups.contains(ADMIN_GROUP));
            assert!(r.allowed(&admin, action, &res, &ctx), "{action} {res:?}");
            assert!(!r.allowed(&dev, action, &res, &ctx), "{action} {res:?}");
        }
    }
}

fn errors_of(name: &str, text: &str, scope: &PolicyScope) -> Vec<(String, Vec<String>)> {
    Policy::parse(name, text, scope)
        .expect_err(text)
        .policies
        .into_iter()
        .map(|p| (p.policy, p.errors))
        .collect()
}

#[test]
fn validation_errors_name_the_document_and_the_problem() {
    let sys = PolicyScope::System;
    let cases: &[(&str, &str, &str)] = &[
        (
            "description: x\ncontext: {application: rundeck}\nby: {group: a}\n",
            "t.aclpolicy[1]",
            "Section 'for:' is required",
        ),
        (
            "description: t\ncontext: {application: rundeck}\nfor: {job: [{allow: run}]}\n",
            "t.aclpolicy[1]",
            "Section 'by:' or 'notBy:' is required",
        ),
        (
            "for: {job: [{allow: run}]}\nby: {group: a}\n",
            "t.aclpolicy[1]",
            "Section 'context:' is required",
        ),
        (
            "description: t\ncontext: {}\nfor: {job: [{allow: run}]}\nby: {group: a}\n",
            "t.aclpolicy[1]",
            "Section 'context:' cannot be empty",
        ),
        (
            "description: t\ncontext: {application: rundeck, project: x}\nfor: {job: [{allow: run}]}\nby: {group: a}\n",
            "t.aclpolicy[1]",
            "only contain one of",
        ),
        (
            "description: t\ncontext: {application: other}\nfor: {job: [{allow: run}]}\nby: {group: a}\n",
            "t.aclpolicy[1]",
            "must be 'rundeck'",
        ),
        (
            "description: t\ncontext: {project: '('}\nfor: {job: [{allow: run}]}\nby: {group: a}\n",
            "t.aclpolicy[1]",
            "invalid regular expression '('",
        ),
        (
            "description: t\ncontext: {project: x}\nfor: {}\nby: {group: a}\n",
            "t.aclpolicy[1]",
            "Section 'for:' cannot be empty",
        ),
        (
            "description: t\ncontext: {project: x}\nfor: {job: {allow: run}}\nby: {group: a}\n",
            "t.aclpolicy[1]",
            "must be a list of rules",
        ),
        (
            "description: t\ncontext: {project: x}\nfor: {job: [{match: {name: a}}]}\nby: {group: a}\n",
            "t.aclpolicy[1]",
            "'for: { job: [1] }': must contain 'allow:' or 'deny:'",
        ),
        (
            "description: t\ncontext: {project: x}\nfor: {job: [{allow: run, mach: {name: a}}]}\nby: {group: a}\n",
            "t.aclpolicy[1]",
            "unknown key 'mach'",
        ),
        (
            "description: t\ncontext: {project: x}\nfor: {job: [{allow: run, equals: {name: [a, b]}}]}\nby: {group: a}\n",
            "t.aclpolicy[1]",
            "must be a single value",
        ),
        (
            "description: t\ncontext: {project: x}\nfor: {job: [{allow: run}]}\nby: {}\n",
            "t.aclpolicy[1]",
            "Section 'by:' cannot be empty",
        ),
        (
            "description: t\ncontext: {project: x}\nfor: {job: [{allow: run}]}\nby: {role: a}\n",
            "t.aclpolicy[1]",
            "unknown key 'role'",
        ),
        (
            "description: t\ncontext: {project: x}\nfor: {job: [{allow: run}]}\nnotBy: {group: a}\n",
            "t.aclpolicy[1]",
            "can only deny",
        ),
        ("- a\n- b\n", "t.aclpolicy[1]", "found a list"),
        ("a: [\n", "t.aclpolicy", "line"),
    ];
    for (text, policy, message) in cases {
        let errs = errors_of("t.aclpolicy", text, &sys);
        assert_eq!(errs.len(), 1, "{text}: {errs:?}");
        assert_eq!(errs[0].0, *policy, "{text}: {errs:?}");
        assert!(
            errs[0].1.iter().any(|e| e.contains(message)),
            "{text}: want {message:?} in {errs:?}"
        );
    }
}

#[test]
fn each_invalid_document_is_reported_with_its_index() {
    let text = "description: ok\ncontext: {application: rundeck}\nfor: {project: [{allow: read}]}\nby: {group: a}\n---\ndescription: bad\ncontext: {application: rundeck}\nby: {group: a}\n---\ndescription: worse\nfor: {job: [{}]}\n";
    let errs = errors_of("multi.aclpolicy", text, &PolicyScope::System);
    let labels: Vec<&str> = errs.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(labels, ["multi.aclpolicy[2]", "multi.aclpolicy[3]"]);
    assert_eq!(errs[0].1, ["Section 'for:' is required"]);
    assert!(errs[1].1.len() >= 3, "{:?}", errs[1].1);
    // A valid file with several documents and a trailing separator.
    let ok = Policy::parse(
        "ok",
        &format!("{DOC_EXAMPLE}---\n{DOC_EXAMPLE}---\n"),
        &PolicyScope::System,
    )
    .unwrap();
    assert_eq!(ok.documents(), 2);
}

#[test]
fn project_policies_apply_to_their_project_only() {
    let scope = PolicyScope::Project("ops".into());
    let no_context = "description: x\nfor: {job: [{allow: run}]}\nby: {group: dev}\n";
    let p = Policy::parse("p.aclpolicy", no_context, &scope).unwrap();
    let r = AclRules::new(vec![p]);
    let s = Subject::new("u", ["dev"]);
    let job = Resource::new("job").with("name", "j");
    assert!(r.allowed(&s, "run", &job, &project("ops")));
    assert!(!r.allowed(&s, "run", &job, &project("ops2")));
    assert!(!r.allowed(&s, "run", &job, &AuthContext::Application));
    // as in Rundeck, a project's policy names no context, not even its own
    for context in [
        "{project: ops}",
        "{project: '.*'}",
        "{application: rundeck}",
    ] {
        let e = errors_of(
            "p",
            &format!("description: x\ncontext: {context}\nfor: {{job: [{{allow: run}}]}}\nby: {{group: dev}}\n"),
            &scope,
        );
        assert_eq!(
            e[0].1,
            ["Context section should not be specified, it is already set to: {project=ops}"],
            "{context}"
        );
    }
    // The system scope requires a context.
    let e = errors_of("p", no_context, &PolicyScope::System);
    assert_eq!(e[0].1, ["Section 'context:' is required"]);
}

#[test]
fn yaml_bombs_and_huge_policies_are_refused() {
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 0..12 {
        let prev = if i == 0 {
            "a".to_owned()
        } else {
            format!("b{}", i - 1)
        };
        bomb.push_str(&format!(
            "b{i}: &b{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    let e = errors_of("bomb.aclpolicy", &bomb, &PolicyScope::System);
    assert_eq!(e[0].0, "bomb.aclpolicy");
    assert!(
        e[0].1[0].contains("alias") || e[0].1[0].contains("repetition limit"),
        "{e:?}"
    );
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let e = errors_of("deep.aclpolicy", &deep, &PolicyScope::System);
    assert!(e[0].1[0].contains("nest"), "{e:?}");
    let huge = "#".repeat(MAX_POLICY_BYTES + 1);
    let e = errors_of("huge.aclpolicy", &huge, &PolicyScope::System);
    assert!(e[0].1[0].contains("larger than"), "{e:?}");
}

#[tokio::test]
async fn the_authorizer_loads_store_policies_and_refreshes() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    store.create_project(&Project::new("ops")).await.unwrap();
    let now = chrono::Utc::now();
    let put = |project: Option<&str>, name: &str, content: &str| AclPolicy {
        project: project.map(str::to_owned),
        name: name.into(),
        content: content.into(),
        modified: now,
    };
    store
        .put_acl_policy(&put(
            None,
            "dev.aclpolicy",
            "description: t\ncontext: {project: '.*'}\nfor: {job: [{allow: read}]}\nby: {group: dev}\n",
        ))
        .await
        .unwrap();
    // An invalid stored policy is skipped, not fatal.
    store
        .put_acl_policy(&put(None, "broken.aclpolicy", "for: [}"))
        .await
        .unwrap();
    let acl = AclAuthorizer::load(store.clone()).await.unwrap();
    let dev = Subject::new("d", ["dev"]);
    let job = Resource::new("job").with("name", "j");
    let ops = project("ops");
    assert!(acl.allowed(&dev, "read", &job, &ops));
    assert!(!acl.allowed(&dev, "run", &job, &ops));
    assert!(acl.allowed(&Subject::new("a", ["admin"]), "run", &job, &ops));

    store
        .put_acl_policy(&put(
            Some("ops"),
            "ops.aclpolicy",
            "description: t\nfor: {job: [{allow: run}, {equals: {name: j}, deny: read}]}\nby: {group: dev}\n",
        ))
        .await
        .unwrap();
    // Unchanged until refreshed: decisions use the compiled copy.
    assert!(!acl.allowed(&dev, "run", &job, &ops));
    let as_trait: Arc<dyn Authorizer> = acl.clone();
    as_trait.refresh().await.unwrap();
    assert!(acl.allowed(&dev, "run", &job, &ops));
    // The project's deny wins over the system allow.
    assert!(matches!(
        acl.decide(&dev, "read", &job, &ops),
        Decision::Deny(why) if why.contains("ops.aclpolicy[1]")
    ));
    // Only in that project.
    assert!(!acl.allowed(&dev, "run", &job, &project("other")));
    assert!(acl.allowed(&dev, "read", &job, &project("other")));

    store
        .delete_acl_policy(Some("ops"), "ops.aclpolicy")
        .await
        .unwrap();
    acl.reload().await.unwrap();
    assert!(!acl.allowed(&dev, "run", &job, &ops));
}

#[tokio::test(start_paused = true)]
async fn spawn_refresh_picks_up_changes() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let acl = AclAuthorizer::load(store.clone()).await.unwrap();
    let handle = acl.spawn_refresh(std::time::Duration::from_secs(5));
    let s = Subject::new("u", ["ops"]);
    let p = Resource::new("project").with("name", "x");
    assert!(!acl.allowed(&s, "read", &p, &AuthContext::Application));
    store
        .put_acl_policy(&AclPolicy {
            project: None,
            name: "ops.aclpolicy".into(),
            content: "description: t\ncontext: {application: rundeck}\nfor: {project: [{allow: read}]}\nby: {group: ops}\n".into(),
            modified: chrono::Utc::now(),
        })
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    assert!(acl.allowed(&s, "read", &p, &AuthContext::Application));
    drop(acl);
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    assert!(handle.is_finished());
}

#[test]
fn allows_every_only_when_no_rule_could_say_no() {
    let admin_yaml = BUILTIN_ADMIN_YAML;
    let conditional = r#"
description: read ops jobs
context:
  project: '.*'
for:
  job:
    - match:
        group: 'ops.*'
      allow: [read]
by:
  group: ops
"#;
    let all_but_secret = r#"
description: everything but secret jobs
context:
  project: 'p1'
for:
  job:
    - allow: '*'
    - equals:
        group: secret
      deny: [read]
by:
  group: dev
"#;
    let r = rules(&[
        ("admin.aclpolicy", admin_yaml),
        ("ops.aclpolicy", conditional),
        ("dev.aclpolicy", all_but_secret),
    ]);
    let admin = Subject::new("root", ["admin"]);
    let ops = Subject::new("olga", ["ops"]);
    let dev = Subject::new("dan", ["dev"]);
    let nobody = Subject::new("x", ["none"]);
    let cases: &[(&Subject, &str, AuthContext, bool)] = &[
        (&admin, "read", project("p1"), true),
        (&admin, "run", project("p2"), true),
        (&ops, "read", AuthContext::Application, false),
        (&ops, "read", project("p1"), false),
        (&dev, "run", project("p1"), true),
        (&dev, "read", project("p1"), false),
        (&dev, "run", project("p2"), false),
        (&nobody, "read", project("p1"), false),
    ];
    let jobs: Vec<Resource> = ["", "ops", "ops/db", "secret", "other"]
        .iter()
        .map(|g| {
            Resource::new("job")
                .with("name", "j")
                .with("group", *g)
                .with("uuid", "u")
        })
        .collect();
    for (who, action, ctx, want) in cases {
        let every = r.allows_every(who, action, "job", ctx);
        assert_eq!(every, *want, "{} {action} {ctx:?}", who.user);
        // never true while some job would be refused
        if every {
            for j in &jobs {
                assert!(
                    r.allowed(who, action, j, ctx),
                    "{} {action} {j:?}",
                    who.user
                );
            }
        }
    }
}

/// Issue 26 item 6: what Rundeck's policy validation refuses and accepts.
#[test]
fn validation_follows_rundeck() {
    use super::{Policy, PolicyScope};
    let sys = PolicyScope::System;
    let base =
        "description: d\ncontext: {project: p}\nby: {group: ops}\nfor:\n  job:\n  - allow: run\n";
    assert!(Policy::parse("ok", base, &sys).is_ok());
    let refused = |text: &str, want: &str| {
        let e = Policy::parse("t", text, &sys).unwrap_err().to_string();
        assert!(e.contains(want), "{text}\n{e}");
    };
    refused(
        &base.replace("description: d\n", ""),
        "Policy is missing a description",
    );
    refused(
        &format!("{base}extra: 1\n"),
        "Policy contains invalid keys: [extra], allowed keys: [by, id, for, context, description]",
    );
    refused(
        &base.replace("group: ops", "group: 1234"),
        "Section 'group:' should be a list or a String",
    );
    refused(
        &base.replace("group: ops", "group: [ops, 12]"),
        "Section 'group:' should contain only Strings",
    );
    refused(
        &base.replace("- allow: run", "- allow: run\n    match: {allow: x}"),
        "Section 'match:' should not contain 'allow:' or 'deny:'",
    );
    refused(
        &base.replace("- allow: run", "- allow: run\n    contains: {name: x}"),
        "Section 'contains:' can only be applied to: 'tags'",
    );
    refused(
        &base.replace("project: p", "project: 'pro**'"),
        "Dangling meta character '*'",
    );
    refused(
        &base.replace("description: d", "description: !!java.lang.Object"),
        "Global tag is not allowed: tag:yaml.org,2002:java.lang.Object",
    );
    // taken by Rundeck: any urn, a match pattern that does not compile
    // (it matches nothing), a repeated key (the last wins), core tags
    assert!(Policy::parse("t", &base.replace("group: ops", "urn: 'not-a-urn'"), &sys).is_ok());
    let bad_match = base.replace(
        "- allow: run",
        "- allow: run\n    match: {name: '(unclosed'}",
    );
    assert!(Policy::parse("t", &bad_match, &sys).is_ok());
    let twice = base.replace("description: d\n", "description: a\ndescription: d\n");
    assert!(Policy::parse("t", &twice, &sys).is_ok());
    assert!(Policy::parse(
        "t",
        &base.replace("description: d", "description: !!str d"),
        &sys
    )
    .is_ok());
    assert!(Policy::parse(
        "t",
        &base.replace("description: d", "description: 'a !!b'"),
        &sys
    )
    .is_ok());
    assert!(Policy::parse(
        "t",
        &base.replace("description: d", "description: wow!! great # !!x"),
        &sys
    )
    .is_ok());
    // a project's policy names no context, as in Rundeck
    let project = PolicyScope::Project("p".into());
    let e = Policy::parse("t", base, &project).unwrap_err().to_string();
    assert!(
        e.contains("Context section should not be specified, it is already set to: {project=p}"),
        "{e}"
    );
    assert!(Policy::parse("t", &base.replace("context: {project: p}\n", ""), &project).is_ok());
    // the pattern that does not compile matches nothing
    for text in ["", "anything", "\n"] {
        assert!(!super::parse::never().is_match(text));
    }
}
