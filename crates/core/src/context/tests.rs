#![allow(clippy::unwrap_used)]

use super::*;
use proptest::prelude::*;
use std::process::Command;

fn ctx_with(x: &str) -> DataContext {
    let mut ctx = DataContext::default();
    ctx.options.insert("x".into(), x.into());
    ctx
}

fn node() -> Node {
    Node::new("web1")
        .with("hostname", "web1.example.com")
        .with("username", "deploy")
        .with("osFamily", "unix")
        .with("rack", "r7")
        .with_tags(["web", "prod"])
}

/// Runs `sh -c line` and returns its stdout.
fn sh(line: &str) -> Vec<u8> {
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(line)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{line:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

const FORMS: &[&str] = &[
    "printf '%s' ${option.x}",
    "printf '%s' \"${option.x}\"",
    "printf '%s' '${option.x}'",
];

fn check_all_forms(x: &str) {
    let ctx = ctx_with(x);
    for form in FORMS {
        let line = expand_command(form, &ctx, &node());
        assert_eq!(
            String::from_utf8_lossy(&sh(&line)),
            x,
            "form {form:?} -> {line:?}"
        );
    }
}

#[test]
fn quoting_keeps_hostile_values_inert() {
    for x in [
        "80 | whoami",
        "$(id)",
        "`id`",
        "'",
        "\"",
        "a\nb",
        "",
        "\\",
        "'\"'\"",
        "x'; touch /tmp/pwned; '",
        "${HOME}",
        "$HOME",
        "}",
        "-n",
        "é ☃ \u{1F600}",
        "tab\there",
        "\\'\\\"",
        "trailing\\",
    ] {
        check_all_forms(x);
    }
}

#[test]
fn quoting_in_nested_contexts() {
    let hostile = "a'b\"c$(id)`id`\\d;e|f\ng}h";
    let ctx = ctx_with(hostile);
    for form in [
        "printf '%s' \"$(printf '%s' ${option.x})\"",
        "printf '%s' \"$(printf '%s' \"${option.x}\")\"",
        "printf '%s' \"`printf '%s' ${option.x}`\"",
        "printf '%s' \"`printf '%s' \\\"${option.x}\\\"`\"",
        "printf '%s' \"${UNSET_VAR_X:-${option.x}}\"",
        "printf '%s' ${UNSET_VAR_X:-${option.x}}",
        "printf '%s' pre${option.x}post",
        "printf '%s' \"pre${option.x}post\"",
    ] {
        let line = expand_command(form, &ctx, &node());
        let got = String::from_utf8_lossy(&sh(&line)).into_owned();
        let want = if form.contains("pre") {
            format!("pre{hostile}post")
        } else {
            hostile.to_owned()
        };
        assert_eq!(got, want, "form {form:?} -> {line:?}");
    }
}

#[test]
fn dollar_before_reference_and_comments() {
    let ctx = ctx_with("(id)");
    let line = expand_command("printf '%s' $${option.x}", &ctx, &node());
    assert_eq!(sh(&line), b"$(id)");
    let line = expand_command("printf '%s' \"$${option.x}\"", &ctx, &node());
    assert_eq!(sh(&line), b"$(id)");

    let ctx = ctx_with("\nprintf pwned #");
    let line = expand_command("printf ok # note ${option.x}", &ctx, &node());
    assert_eq!(sh(&line), b"ok");
}

#[test]
fn command_references_and_missing_values() {
    let mut ctx = ctx_with("v");
    ctx.options.insert("db.host-name".into(), "db1".into());
    ctx.job.insert("name".into(), "deploy".into());
    ctx.job.insert("user.name".into(), "alice".into());
    let n = node();
    assert_eq!(
        expand_command(
            "x ${option.db.host-name} ${node.name} ${job.user.name}",
            &ctx,
            &n
        ),
        "x 'db1' 'web1' 'alice'"
    );
    // unresolved known references are blank; shell variables are the shell's
    assert_eq!(
        expand_command(
            "x ${option.nope} ${node.nope} ${data.nope} ${HOME} $X",
            &ctx,
            &n
        ),
        "x '' '' '' ${HOME} $X"
    );
    // escaped reference is left to the shell as a literal
    assert_eq!(
        expand_command("echo \\${option.x}", &ctx, &n),
        "echo \\${option.x}"
    );
    assert_eq!(
        expand_command("echo ${unquotedoption.x}", &ctx_with("a b"), &n),
        "echo a b"
    );
}

#[test]
fn text_expansion() {
    let mut ctx = ctx_with("1 2");
    ctx.job.insert("project".into(), "ops".into());
    ctx.data.insert("k".into(), "global".into());
    ctx.node_data
        .entry("web1".into())
        .or_default()
        .insert("k".into(), "mine".into());
    ctx.node_data
        .entry("web2".into())
        .or_default()
        .insert("k".into(), "theirs".into());
    let n = node();
    assert_eq!(
        expand_text(
            "${option.x}|${option.missing}|${node.missing}|${job.project}|${foo}",
            &ctx,
            &n
        ),
        "1 2||${node.missing}|ops|${foo}"
    );
    assert_eq!(
        expand_text("${node.hostname} ${node.tags} ${node.os-family} ${node.rack} ${node.username} ${node.os-arch}", &ctx, &n),
        "web1.example.com prod,web unix r7 deploy "
    );
    assert_eq!(
        expand_text(
            "${data.k} ${data.k@web2} ${data.k*} ${data.k*;} ${data.k@web9}",
            &ctx,
            &n
        ),
        "mine theirs mine,theirs mine;theirs ${data.k@web9}"
    );
    assert_eq!(
        expand_text("${data.k}", &ctx, &Node::new("other")),
        "global"
    );
    assert_eq!(
        expand_text("$ {x} ${ option.x} ${", &ctx, &n),
        "$ {x} ${ option.x} ${"
    );
}

#[test]
fn raw_script_tokens() {
    let mut ctx = ctx_with("it's $(raw)");
    ctx.job.insert("name".into(), "deploy".into());
    ctx.data.insert("k".into(), "v".into());
    let n = node();
    assert_eq!(
        expand_script_raw(
            "echo @option.x@ @node.name@ @job.name@ @data.k@ [@option.none@]\n",
            &ctx,
            &n
        ),
        "echo it's $(raw) web1 deploy v []\n"
    );
    assert_eq!(
        expand_script_raw("mail a@example.com b@c @@ @foo@ \"$@\" @option.x", &ctx, &n),
        "mail a@example.com b@c @@ @foo@ \"$@\" @option.x"
    );
}

#[test]
fn argument_splitting() {
    let mut ctx = ctx_with("two words");
    ctx.options.insert("q".into(), "it's".into());
    let n = node();
    assert_eq!(
        split_args(
            "a ${option.x} \"b c\" 'd ${option.q}' e\\ f '' \"g\\\"h\" ${option.none}",
            &ctx,
            &n
        ),
        vec!["a", "two words", "b c", "d it's", "e f", "", "g\"h", ""]
    );
    assert!(split_args("   ", &ctx, &n).is_empty());
    assert_eq!(split_args("x\"y z\"w", &ctx, &n), vec!["xy zw"]);
}

#[test]
fn environment_names_and_values() {
    let mut ctx = ctx_with("1");
    ctx.options.insert("db.host-name".into(), "db1".into());
    ctx.job.insert("user.name".into(), "alice".into());
    ctx.job.insert("execid".into(), "42".into());
    ctx.data.insert("k".into(), "global".into());
    ctx.node_data
        .entry("web1".into())
        .or_default()
        .insert("k".into(), "mine".into());
    let env = environment(&ctx, &node());
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("RD_OPTION_X"), Some("1"));
    assert_eq!(get("RD_OPTION_DB_HOST_NAME"), Some("db1"));
    assert_eq!(get("RD_JOB_USER_NAME"), Some("alice"));
    assert_eq!(get("RD_JOB_EXECID"), Some("42"));
    assert_eq!(get("RD_NODE_NAME"), Some("web1"));
    assert_eq!(get("RD_NODE_HOSTNAME"), Some("web1.example.com"));
    assert_eq!(get("RD_NODE_OS_FAMILY"), Some("unix"));
    assert_eq!(get("RD_NODE_TAGS"), Some("prod,web"));
    assert_eq!(get("RD_NODE_RACK"), Some("r7"));
    assert_eq!(get("RD_NODE_DESCRIPTION"), Some(""));
    assert_eq!(get("RD_DATA_K"), Some("mine"));
    assert_eq!(get("RD_NODE_OSFAMILY"), None);
    let names: Vec<&String> = env.iter().map(|(n, _)| n).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(names.iter().all(|n| n
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')));
}

#[test]
fn masking() {
    let m = SecretMasker::new(vec![
        "".to_owned(),
        "pass".to_owned(),
        "password1".to_owned(),
        "line one\nab\nline three".to_owned(),
    ]);
    assert!(!m.is_empty());
    assert_eq!(m.mask("my password1 and pass"), "my [SECURE] and [SECURE]");
    assert_eq!(m.mask("x line one y"), "x [SECURE] y");
    assert_eq!(m.mask("ab stays"), "ab stays");
    assert_eq!(m.mask("line three"), "[SECURE]");
    assert_eq!(m.mask("no secrets"), "no secrets");
    assert_eq!(m.mask("passpass"), "[SECURE][SECURE]");
    assert_eq!(
        m.mask_bytes(b"\xff password1 \xfe pass"),
        b"\xff [SECURE] \xfe [SECURE]".to_vec()
    );
    let empty = SecretMasker::new(Vec::<String>::new());
    assert!(empty.is_empty());
    assert_eq!(empty.mask("pass"), "pass");
    assert!(SecretMasker::new(vec![String::new()]).is_empty());

    let mut ctx = ctx_with("s3cret");
    ctx.secure_options.insert("x".into());
    assert_eq!(ctx.masker().mask("v=s3cret"), "v=[SECURE]");
}

#[test]
fn shell_quote_forms() {
    assert_eq!(shell_quote(""), "''");
    assert_eq!(shell_quote("a b"), "'a b'");
    assert_eq!(shell_quote("it's"), "'it'\\''s'");
}

/// Strings biased towards shell metacharacters, plus any other character.
fn hostile_string() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        '\'', '"', '$', '`', '\\', '\n', ';', '|', '&', '(', ')', '{', '}', ' ', '*', '?', '#',
        '~', '!', '<', '>', '\t', '\r', '=', '%', '-',
    ]);
    let any_char = any::<char>().prop_filter("no NUL", |c| *c != '\0');
    prop::collection::vec(prop_oneof![special, any_char], 0..40)
        .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn unquoted_form_prints_value(x in hostile_string()) {
        let line = expand_command(FORMS[0], &ctx_with(&x), &node());
        prop_assert_eq!(sh(&line), x.as_bytes());
    }

    #[test]
    fn double_quoted_form_prints_value(x in hostile_string()) {
        let line = expand_command(FORMS[1], &ctx_with(&x), &node());
        prop_assert_eq!(sh(&line), x.as_bytes());
    }

    #[test]
    fn single_quoted_form_prints_value(x in hostile_string()) {
        let line = expand_command(FORMS[2], &ctx_with(&x), &node());
        prop_assert_eq!(sh(&line), x.as_bytes());
    }
}
