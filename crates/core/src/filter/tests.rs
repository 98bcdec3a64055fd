#![allow(clippy::unwrap_used)]

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn fixture() -> Vec<Node> {
    vec![
        Node::new("web1")
            .with_tags(["web", "prod"])
            .with("hostname", "web1.example.com")
            .with("osFamily", "unix")
            .with("env", "prod"),
        Node::new("web2")
            .with_tags(["web", "staging"])
            .with("hostname", "web2.example.com:2222")
            .with("osFamily", "unix")
            .with("env", "staging"),
        Node::new("db1")
            .with_tags(["db", "prod"])
            .with("hostname", "10.0.0.5")
            .with("osFamily", "unix")
            .with("env", "prod")
            .with("role", "primary db"),
        Node::new("db2")
            .with_tags(["db", "staging", "backup"])
            .with("hostname", "db2:22")
            .with("osFamily", "unix")
            .with("env", "staging"),
        Node::new("win1")
            .with_tags(["windows", "prod"])
            .with("hostname", "win1.corp")
            .with("osFamily", "windows")
            .with("osName", "Windows Server 2019")
            .with("env", "prod"),
        Node::new("app server")
            .with_tags(["app"])
            .with("hostname", "app.local")
            .with("osFamily", "unix")
            .with("env", "dev")
            .with("note", "a:b"),
        Node::new("lb1")
            .with_tags(["lb", "web"])
            .with("hostname", "lb1")
            .with("osFamily", "unix"),
        // no tags, no attributes; its name is an invalid regex
        Node::new("web["),
    ]
}

const ALL: &[&str] = &[
    "web1",
    "web2",
    "db1",
    "db2",
    "win1",
    "app server",
    "lb1",
    "web[",
];

/// (filter, exclude_precedence, expected node names in fixture order)
const CASES: &[(&str, bool, &[&str])] = &[
    // empty filters select nothing
    ("", true, &[]),
    ("   ", true, &[]),
    ("name:", true, &[]),
    ("name: \"\"", true, &[]),
    // match-all
    (".*", true, ALL),
    ("name: .*", true, ALL),
    // bare words are names; several bare words are a comma list
    ("web1", true, &["web1"]),
    ("Web1", true, &[]),
    ("web1 db1", true, &["web1", "db1"]),
    ("nodename: db1", true, &["db1"]),
    // `key: value` and `key:value`
    ("name:web1", true, &["web1"]),
    ("name: web1,db2", true, &["web1", "db2"]),
    ("name: web1 name: web2", true, &["web1", "web2"]),
    // regexes are full matches
    ("web.*", true, &["web1", "web2", "web["]),
    ("name: web\\d", true, &["web1", "web2"]),
    ("name: /web[12]/", true, &["web1", "web2"]),
    ("name: /.*1/", true, &["web1", "db1", "win1", "lb1"]),
    ("name: eb1", true, &[]),
    // TestNodeSet.testMatchesInput: `.` is any char, `.+` needs one
    ("name: web.", true, &["web1", "web2", "web["]),
    ("name: web..", true, &[]),
    ("name: .+web.*", true, &[]),
    ("name: \"web1 db1\"", true, &[]),
    ("name: web1|db.*", true, &["web1", "db1", "db2"]),
    // list items are exact, not regexes (Rundeck docs)
    ("web.* db1", true, &["db1"]),
    // invalid regex falls back to equality
    ("name: web[", true, &["web["]),
    ("web[", true, &["web["]),
    ("name: /web[/", true, &["web["]),
    ("name: (?<=a)b", true, &[]),
    // tags: `,` is OR, `+` is AND
    ("tags: web", true, &["web1", "web2", "lb1"]),
    ("tags: web+prod", true, &["web1"]),
    ("tags: web+prod,db", true, &["web1", "db1", "db2"]),
    ("tags: db tags: lb", true, &["db1", "db2", "lb1"]),
    ("tags: web+staging", true, &["web2"]),
    ("tags: prod+db+backup", true, &[]),
    ("tags: st.*", true, &["web2", "db2"]),
    ("tags: web+st.*", true, &["web2"]),
    ("tags: /w.*/", true, &["web1", "web2", "win1", "lb1"]),
    ("tags: nope", true, &[]),
    // empty pieces follow Java's split, as Rundeck's matchesInputSet does
    ("tags: +web", true, &[]),
    ("tags: web++prod", true, &[]),
    ("tags: web+", true, &["web1", "web2", "lb1"]),
    ("tags: ,db", true, &["db1", "db2"]),
    ("tags: ,", true, &[]),
    (
        "tags: +",
        true,
        &["web1", "web2", "db1", "db2", "win1", "app server", "lb1"],
    ),
    // TestNodeSet.testMatchesInputSet-style OR/AND mixes with regexes
    ("tags: nope,w.*+prod", true, &["web1", "win1"]),
    ("tags: nope+web,db+st.*", true, &["db2"]),
    ("tags: /a{1,2}pp/", true, &["app server"]),
    (
        "tags: \"web, db\"",
        true,
        &["web1", "web2", "db1", "db2", "lb1"],
    ),
    // `tags: web,` then bare `db` (name): AND of both, nothing matches
    ("tags: web, db", true, &[]),
    // custom attributes; different keys AND
    ("env: prod", true, &["web1", "db1", "win1"]),
    ("env:prod tags:web", true, &["web1"]),
    (
        "env: prod,staging",
        true,
        &["web1", "web2", "db1", "db2", "win1"],
    ),
    (
        "env: .*",
        true,
        &["web1", "web2", "db1", "db2", "win1", "app server"],
    ),
    ("missing: .*", true, &[]),
    ("tags: db env: staging osFamily: unix", true, &["db2"]),
    // os aliases
    (
        "osFamily: unix",
        true,
        &["web1", "web2", "db1", "db2", "app server", "lb1"],
    ),
    ("os-family: windows", true, &["win1"]),
    // two spellings are two keys (Rundeck): both must match
    ("os-family: windows osFamily: nope", true, &[]),
    ("os-family: windows osFamily: windows", true, &["win1"]),
    ("name: web1 nodename: db1", true, &[]),
    ("name: web1 nodename: web.*", true, &["web1"]),
    ("osName: Windows.*", true, &["win1"]),
    ("os-name: 'Windows Server 2019'", true, &["win1"]),
    // hostnames with ports
    ("hostname: web2.example.com:2222", true, &["web2"]),
    ("hostname:db2:22", true, &["db2"]),
    ("hostname: .*:\\d+", true, &["web2", "db2"]),
    (
        "hostname: web1.example.com,10.0.0.5",
        true,
        &["web1", "db1"],
    ),
    // quoting
    ("\"app server\"", true, &["app server"]),
    ("name: 'app server'", true, &["app server"]),
    ("name:\"app server\"", true, &["app server"]),
    ("role: \"primary db\"", true, &["db1"]),
    ("note: \"a:b\"", true, &["app server"]),
    ("note:a:b", true, &["app server"]),
    // colons are found after unquoting (TestNodeSet.testParseFilterQuotedKeyValue)
    ("'role:primary db'", true, &["db1"]),
    ("\"os-name:Windows Server 2019\"", true, &["win1"]),
    (
        " '!env:prod'  ",
        true,
        &["web2", "db2", "app server", "lb1", "web["],
    ),
    // tabs and CRLF separate tokens (testParseFilterMultiMixedIgnoreTabs);
    // exclude terms AND too: only nodes both prod and web are dropped
    (
        "!env:\t 'prod' !tags:\r\n 'web'",
        true,
        &["web2", "db1", "db2", "win1", "app server", "lb1", "web["],
    ),
    ("\"no\"\"de\"", true, &[]),
    // excludes alone select everything else
    (
        "!name: web1",
        true,
        &["web2", "db1", "db2", "win1", "app server", "lb1", "web["],
    ),
    (
        "!web1",
        true,
        &["web2", "db1", "db2", "win1", "app server", "lb1", "web["],
    ),
    (
        "!tags: prod",
        true,
        &["web2", "db2", "app server", "lb1", "web["],
    ),
    (
        "!env: prod",
        true,
        &["web2", "db2", "app server", "lb1", "web["],
    ),
    (
        "!tags: web",
        false,
        &["db1", "db2", "win1", "app server", "web["],
    ),
    ("!nodename: db1 tags: db", true, &["db2"]),
    // the docs' examples
    ("web1 !nodename: web2", true, &["web1"]),
    (
        "tags: web+prod hostname: web1.example.com,10.0.0.5",
        true,
        &["web1"],
    ),
    // exclude precedence on: exclude wins
    ("tags: web !name: web1", true, &["web2", "lb1"]),
    ("web1 !tags: prod", true, &[]),
    ("name: web1 !name: web1", true, &[]),
    ("tags: db !env: staging", true, &["db1"]),
    // TestNodeSet.testShouldExclude on hostnames
    (
        "hostname: .*example.* !hostname: web2.example.com:2222",
        true,
        &["web1"],
    ),
    // exclude precedence off: include wins, and a node matching neither
    // set is kept (NodeSet.shouldExclude)
    ("tags: web !name: web1", false, ALL),
    (
        "web1 !tags: prod",
        false,
        &["web1", "web2", "db2", "app server", "lb1", "web["],
    ),
    ("name: web1 !name: web1", false, ALL),
    (
        "hostname: .*example.* !hostname: web2.example.com:2222",
        false,
        ALL,
    ),
    (
        "hostname: web1.example.com !hostname: .*example.*",
        false,
        &["web1", "db1", "db2", "win1", "app server", "lb1", "web["],
    ),
    (
        "tags: db !tags: staging",
        false,
        &["web1", "db1", "db2", "win1", "app server", "lb1", "web["],
    ),
];

#[test]
fn table() {
    let nodes = fixture();
    assert!(CASES.len() >= 40, "{} cases", CASES.len());
    for &(filter, precedence, expected) in CASES {
        let f = NodeFilter::parse(filter).unwrap();
        let got: Vec<&str> = f
            .select(&nodes, precedence)
            .into_iter()
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(
            got, expected,
            "filter `{filter}` (precedence {precedence}): {f:?}"
        );
        for n in &nodes {
            assert_eq!(
                f.matches(n, precedence),
                expected.contains(&n.name.as_str()),
                "filter `{filter}` node {}",
                n.name
            );
        }
        let shown = f.to_string();
        let back: NodeFilter = shown.parse().unwrap();
        assert_eq!(back, f, "round trip of `{filter}` via `{shown}`");
    }
}

#[test]
fn equivalent_spellings() {
    let p = |s: &str| NodeFilter::parse(s).unwrap();
    assert_eq!(p("name: web1 name: web2"), p("name: web1,web2"));
    assert_eq!(p("web1 web2"), p("name:web1,web2"));
    assert_eq!(p("!web1"), p("!name: web1"));
    assert_eq!(p("name:'a b'"), p("\"a b\""));
    assert!(p("").is_empty());
    assert!(p("name:").is_empty());
    assert!(!p("!x").is_empty());
    assert_eq!(
        p("tags: web+prod !name: web1").to_string(),
        "tags: web+prod !name: web1"
    );
    assert_eq!(p("'app server'").to_string(), "name: \"app server\"");
    assert_eq!(p("'a:b c': d").to_string(), "\"a:b c:\" d");
    // aliases read the same attribute, but stay distinct keys
    let nodes = fixture();
    for (a, b) in [
        ("nodename: db1", "db1"),
        ("os-family: windows", "osFamily: windows"),
        ("!os-family: unix", "!osFamily: unix"),
    ] {
        assert_ne!(p(a), p(b));
        assert_eq!(
            p(a).select(&nodes, true),
            p(b).select(&nodes, true),
            "{a} vs {b}"
        );
    }
}

/// The parse results of Rundeck's `TestNodeSet.testParseFilter*`.
#[test]
fn rundeck_parse_maps() {
    let map = |pairs: Pairs| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    type Pairs = &'static [(&'static str, &'static str)];
    let cases: &[(&str, Pairs, Pairs)] = &[
        ("tags: xyz", &[("tags", "xyz")], &[]),
        ("xyz", &[("name", "xyz")], &[]),
        ("xyz abc", &[("name", "xyz,abc")], &[]),
        ("tags:xyz tags:abc", &[("tags", "xyz,abc")], &[]),
        (
            "tags: xyz  name: 'monkey toe'",
            &[("tags", "xyz"), ("name", "monkey toe")],
            &[],
        ),
        ("!tags:xyz", &[], &[("tags", "xyz")]),
        (
            "!tags: xyz !name: 'macaroon brigade' ",
            &[],
            &[("tags", "xyz"), ("name", "macaroon brigade")],
        ),
        (
            "    tags:   xyz,vwz  !name:    \"macaroon brigade\"",
            &[("tags", "xyz,vwz")],
            &[("name", "macaroon brigade")],
        ),
        (
            "!cloud.display_name:\t 'Rackspace Open Cloud - Chicago' !cloud.xyz:\r\n 'monkeyfill'",
            &[],
            &[
                ("cloud.display_name", "Rackspace Open Cloud - Chicago"),
                ("cloud.xyz", "monkeyfill"),
            ],
        ),
        (" '!test:money pants'  ", &[], &[("test", "money pants")]),
        (
            " '!test:xyz:money pants'  ",
            &[],
            &[("test", "xyz:money pants")],
        ),
        ("as:test: elf", &[("as:test", "elf")], &[]),
    ];
    for &(filter, include, exclude) in cases {
        let f = NodeFilter::parse(filter).unwrap();
        assert_eq!(f.include(), &map(include), "include of `{filter}`");
        assert_eq!(f.exclude(), &map(exclude), "exclude of `{filter}`");
        assert_eq!(NodeFilter::parse(&f.to_string()).unwrap(), f, "{filter}");
    }
}

#[test]
fn display_round_trips_odd_keys_and_values() {
    for s in [
        "'a b':c",
        "\"!a b\": c",
        "'k:1': v",
        ": v",
        "!: v",
        "!!x: v",
        "x: !y",
        "x: 'it''s'",
        "x: '\"q\"'",
        "x: tags:",
        "x: \"a\tb\"",
    ] {
        let f = NodeFilter::parse(s).unwrap();
        let shown = f.to_string();
        assert_eq!(NodeFilter::parse(&shown).unwrap(), f, "`{s}` via `{shown}`");
    }
}

#[test]
fn unterminated_quote_is_an_error_with_position() {
    for (s, pos) in [("name: \"web", 6), ("'abc", 0), ("tags:web name:'x", 14)] {
        let err = NodeFilter::parse(s).unwrap_err();
        match &err {
            crate::Error::Format {
                source_name,
                message,
            } => {
                assert_eq!(source_name, "node filter");
                assert!(
                    message.contains(&format!("character {pos}")),
                    "{s}: {message}"
                );
            }
            other => panic!("unexpected error {other:?}"),
        }
    }
    // a quote inside a word is literal, not an opening quote
    assert!(NodeFilter::parse("we\"b").is_ok());
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC*") {
        let _ = NodeFilter::parse(&s);
    }

    #[test]
    fn parse_and_select_never_panic_on_filter_like_input(
        s in "[a-z!:'\" ,+/.*\\[\\]()|\\\\-]{0,40}",
        precedence in any::<bool>(),
    ) {
        if let Ok(f) = NodeFilter::parse(&s) {
            let _ = f.select(&fixture(), precedence);
            let shown = f.to_string();
            prop_assert_eq!(NodeFilter::parse(&shown).ok(), Some(f));
        }
    }
}
