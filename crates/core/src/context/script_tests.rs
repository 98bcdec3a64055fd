//! `@option.x@` tokens in scripts: every quoting context through real
//! `/bin/sh` (dash) and bash, refused contexts, Python strings, detection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::error::Error;
use proptest::prelude::*;
use std::io::Write;
use std::process::Command;

fn ctx_with(v: &str) -> DataContext {
    let mut ctx = DataContext::default();
    ctx.options.insert("v".into(), v.into());
    ctx
}

fn node() -> Node {
    Node::new("web1")
}

/// Writes `script` to a file and runs it with `shell`; its stdout, and
/// stderr when it failed.
fn run(shell: &str, script: &str) -> Result<String, String> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(script.as_bytes()).unwrap();
    file.flush().unwrap();
    let out = Command::new(shell).arg(file.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() && stderr.is_empty() {
        Ok(stdout)
    } else {
        Err(format!(
            "{shell}: {:?}\nstdout: {stdout}\nstderr: {stderr}",
            out.status
        ))
    }
}

const SEP: &str = "\n::SEP::\n";

/// Each line prints the value of `@option.v@` (wrapped as the second field
/// says) in one quoting context, then a separator.
const CONTEXTS: &[(&str, &str, &str)] = &[
    ("unquoted", "printf '%s' @option.v@", ""),
    ("double", "printf '%s' \"@option.v@\"", ""),
    ("single", "printf '%s' '@option.v@'", ""),
    ("joined", "printf '%s' \"a\"@option.v@'b'", "a|b"),
    ("dollar", "printf '%s' \"$@option.v@\"", "$|"),
    ("dollar-unquoted", "printf '%s' $@option.v@", "$|"),
    ("assignment", "y=@option.v@; printf '%s' \"$y\"", ""),
    (
        "command-substitution",
        "x=\"$(printf '%sx' @option.v@)\"; printf '%s' \"${x%x}\"",
        "",
    ),
    (
        "nested-substitution",
        "x=$(printf '%s' \"$(printf '%sx' '@option.v@')\"); printf '%s' \"${x%x}\"",
        "",
    ),
    (
        "backticks",
        "x=`printf '%sx' \"@option.v@\"`; printf '%s' \"${x%x}\"",
        "",
    ),
    (
        "backticks-in-double",
        "x=\"`printf '%sx' \\\"@option.v@\\\"`\"; printf '%s' \"${x%x}\"",
        "",
    ),
    (
        "backticks-single",
        "x=\"`printf '%sx' '@option.v@'`\"; printf '%s' \"${x%x}\"",
        "",
    ),
    (
        "param-default",
        "unset u; printf '%s' \"${u:-@option.v@}\"",
        "",
    ),
    (
        "param-default-unquoted",
        "unset u; printf '%s' ${u:-@option.v@}",
        "",
    ),
    (
        "multi-line-double",
        "printf '%s' \"first\n@option.v@\nlast\"",
        "first\n|\nlast",
    ),
    (
        "multi-line-single",
        "printf '%s' 'first\n@option.v@\nlast'",
        "first\n|\nlast",
    ),
    ("heredoc", "cat <<END_V\n[@option.v@]\nEND_V\n", "[|]\n"),
    (
        "heredoc-quoted",
        "cat <<'END_V'\n[@option.v@]\nEND_V\n",
        "[|]\n",
    ),
    (
        "heredoc-dash",
        "cat <<-END_V\n\t@option.v@\n\tEND_V\n",
        "|\n",
    ),
    (
        "heredoc-substitution",
        "cat <<END_V\n[$(printf '%s' @option.v@)]\nEND_V\n",
        "[|]\n",
    ),
    (
        "comment",
        "# a comment with @option.v@ in it\nprintf 'c'",
        "c",
    ),
    (
        "case-in-substitution",
        "x=\"$(case a in a) printf '%sx' \"@option.v@\";; (b) :;; esac)\"; printf '%s' \"${x%x}\"",
        "",
    ),
    (
        "if",
        "if [ \"@option.v@\" = \"@option.v@\" ]; then printf 'same'; fi",
        "same",
    ),
    (
        "case",
        "case @option.v@ in *) printf '%s' \"@option.v@\";; esac",
        "",
    ),
];

/// The script of all contexts (bash ones too when `bash`), and the output
/// it must print for `v`.
fn all_contexts(v: &str, bash: bool) -> (String, String, Vec<&'static str>) {
    let mut script = String::from(if bash { "#!/bin/bash\n" } else { "#!/bin/sh\n" });
    let mut expected = String::new();
    let mut contexts: Vec<(&str, &str, &str)> = CONTEXTS.to_vec();
    if bash {
        contexts.push(("ansi-c", "printf '%s' $'a\\t@option.v@b'", "a\t|b"));
        contexts.push(("process-substitution", "cat <(printf '%s' @option.v@)", ""));
        contexts.push((
            "double-brackets",
            "[[ @option.v@ == \"@option.v@\" ]] && printf 'eq'",
            "eq",
        ));
    }
    // bash drops a backslash-newline inside `$(...)` in a here-document:
    // such values are refused there (checked below)
    contexts.retain(|c| !(c.0 == "heredoc-substitution" && v.contains("\\\n")));
    let names = contexts.iter().map(|c| c.0).collect();
    for (name, line, wrap) in contexts {
        script.push_str(line);
        script.push_str("\nprintf '\\n::SEP::\\n'\n");
        let v = if line.contains("<<-") {
            // the shell strips leading tabs from every line of a `<<-` body
            v.split('\n')
                .map(|l| l.trim_start_matches('\t'))
                .collect::<Vec<_>>()
                .join("\n")
        } else if name == "heredoc-substitution" {
            // `$(...)` drops trailing newlines
            v.trim_end_matches('\n').to_owned()
        } else {
            v.to_owned()
        };
        let out = match wrap.split_once('|') {
            _ if wrap.is_empty() => v,
            Some((a, b)) => format!("{a}{v}{b}"),
            None => wrap.to_owned(),
        };
        expected.push_str(&out);
        expected.push_str(SEP);
    }
    (script, expected, names)
}

/// Runs the all-contexts script for `v` with `shell` and compares the
/// output context by context.
fn check_all(shell: &str, v: &str) -> Result<(), TestCaseError> {
    let bash = shell.ends_with("bash");
    let (template, expected, names) = all_contexts(v, bash);
    if v.contains("\\\n") {
        let doc = CONTEXTS
            .iter()
            .find(|c| c.0 == "heredoc-substitution")
            .unwrap();
        let refused = expand_script(doc.1, None, &ctx_with(v), &node());
        prop_assert!(
            matches!(refused, Err(Error::UnsafeToken { .. })),
            "{:?}",
            refused
        );
    }
    let script = expand_script(&template, None, &ctx_with(v), &node())
        .map_err(|e| TestCaseError::fail(format!("{e}\n{template}")))?;
    let out = run(shell, &script).map_err(|e| TestCaseError::fail(format!("{e}\n{script}")))?;
    let got: Vec<&str> = out.split(SEP).collect();
    let want: Vec<&str> = expected.split(SEP).collect();
    for (i, name) in names.iter().enumerate() {
        prop_assert_eq!(
            got.get(i),
            want.get(i),
            "context {} with {}:\n{}",
            name,
            shell,
            script
        );
    }
    prop_assert_eq!(got.len(), want.len(), "{}", out);
    Ok(())
}

#[test]
fn every_context_prints_hostile_values_exactly() {
    for v in [
        "$(touch pwned)",
        "`touch pwned`",
        "\"; touch pwned; echo \"",
        "'; touch pwned; echo '",
        "${IFS}x\\",
        "a\nEND_Vx\n`id`",
        "",
        "it's a \"quote\" \\ \\\\ $HOME }{ ) ( # ; | & < >",
        "\u{e9}\u{1f600}\r\t",
    ] {
        check_all("/bin/sh", v).unwrap();
        check_all("/bin/bash", v).unwrap();
    }
}

/// Strings biased towards shell metacharacters, plus any other character
/// (no NUL: no shell can hold it).
fn hostile_string() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        '\'', '"', '$', '`', '\\', '\n', ';', '|', '&', '(', ')', '{', '}', ' ', '*', '?', '#',
        '~', '!', '<', '>', '\t', '\r', '=', '%', '-', '[', ']', '@',
    ]);
    let words = prop::sample::select(vec![
        "$(", "${", "`", "'\\''", "\\\"", "$((", "<<", "EOF", "\n#", "$'", "\\n",
    ]);
    let any_char = any::<char>().prop_filter("no NUL", |c| *c != '\0');
    prop::collection::vec(
        prop_oneof![
            3 => special.prop_map(String::from),
            2 => words.prop_map(str::to_owned),
            1 => any_char.prop_map(String::from),
            1 => "[a-z]{1,4}",
        ],
        0..24,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn random_values_through_dash_print_exactly(v in hostile_string()) {
        check_all("/bin/sh", &v)?;
    }

    #[test]
    fn random_values_through_bash_print_exactly(v in hostile_string()) {
        check_all("/bin/bash", &v)?;
    }
}

fn refusal(script: &str) -> (String, usize, String) {
    match expand_script(script, None, &ctx_with("x"), &node()) {
        Err(Error::UnsafeToken {
            token,
            line,
            reason,
            ..
        }) => (token, line, reason),
        other => panic!("{script:?} was not refused: {other:?}"),
    }
}

#[test]
fn contexts_no_quoting_makes_safe_are_refused() {
    for (script, line, why) in [
        ("eval @option.v@", 1, "eval"),
        ("echo ok\neval \"echo @option.v@\"", 2, "eval"),
        ("sh -c 'echo @option.v@'", 1, "sh -c"),
        ("bash -ec \"echo @option.v@\"", 1, "bash -c"),
        ("sudo -u deploy bash -c 'echo @option.v@'", 1, "bash -c"),
        ("find . -exec sh -c 'echo @option.v@' \\;", 1, "sh -c"),
        ("ssh web1 \"ls @option.v@\"", 1, "ssh"),
        ("su - deploy -c 'echo @option.v@'", 1, "su"),
        ("echo $(( @option.v@ + 1 ))", 1, "arithmetic"),
        ("(( n = @option.v@ ))", 1, "arithmetic"),
        ("let n=@option.v@", 1, "let"),
        ("echo \"${a[@option.v@]}\"", 1, "subscript"),
        ("echo \"${a:@option.v@}\"", 1, "substring"),
        ("declare -i n=@option.v@", 1, "integer"),
        ("[[ @option.v@ -eq 3 ]]", 1, "arithmetic comparison"),
        ("cat <<@option.v@\nx\n", 1, "delimiter"),
        (
            "sh <<EOF\necho @option.v@\nEOF\n",
            2,
            "here-document fed to `sh`",
        ),
        ("ssh web1 <<'EOF'\necho @option.v@\nEOF\n", 2, "ssh"),
        ("python3 - <<EOF\nprint('@option.v@')\nEOF\n", 2, "python3"),
        ("echo @option.v@ | sh", 1, "pipeline"),
        ("printf '%s' \"@option.v@\" | sudo bash -s", 1, "pipeline"),
        ("bash <<< \"@option.v@\"", 1, "here-string"),
        ("awk '{print \"@option.v@\"}' f", 1, "awk"),
        ("sed -i \"s/a/@option.v@/\" f", 1, "sed"),
        ("python3 -c \"print('@option.v@')\"", 1, "python3"),
        ("perl -e 'print \"@option.v@\"'", 1, "perl"),
        ("x=$(eval echo @option.v@)", 1, "eval"),
    ] {
        let (token, at, reason) = refusal(script);
        assert_eq!(token, "option.v", "{script}");
        assert_eq!(at, line, "{script}: {reason}");
        assert!(reason.contains(why), "{script}: {reason}");
    }
}

#[test]
fn a_value_that_would_end_a_heredoc_is_refused() {
    let script = "cat <<EOF\n@option.v@\nEOF\necho after\n";
    let ctx = ctx_with("EOF\ntouch pwned");
    let err = expand_script(script, None, &ctx, &node()).unwrap_err();
    assert!(matches!(&err, Error::UnsafeToken { line: 2, .. }), "{err}");
    assert!(err.to_string().contains("terminator"), "{err}");
    // the same value in a line that cannot become the terminator is fine
    let ok = expand_script("cat <<EOF\n[@option.v@]\nEOF\n", None, &ctx, &node()).unwrap();
    assert_eq!(run("/bin/sh", &ok).unwrap(), "[EOF\ntouch pwned]\n");
    // `<<-` strips tabs before comparing
    let tabs = ctx_with("\tEND");
    assert!(expand_script("cat <<-END\n@option.v@\nEND\n", None, &tabs, &node()).is_err());
}

#[test]
fn sh_ansi_c_strings_refuse_quotes_and_backslashes() {
    let script = "printf '%s' $'@option.v@'";
    let plain = expand_script(script, None, &ctx_with("a b"), &node()).unwrap();
    assert_eq!(run("/bin/sh", &plain).unwrap(), "$a b");
    for v in ["it's", "a\\'b"] {
        let err = expand_script(script, None, &ctx_with(v), &node()).unwrap_err();
        assert!(err.to_string().contains("$'...'"), "{err}");
    }
    // bash reads them as ANSI-C strings, where they are escaped
    let bash = expand_script(script, Some("bash"), &ctx_with("a\\'b"), &node()).unwrap();
    assert_eq!(run("/bin/bash", &bash).unwrap(), "a\\'b");
}

#[test]
fn ordinary_commands_and_scripts_are_not_refused() {
    for script in [
        "echo @option.v@ | grep sh",
        "bash deploy.sh @option.v@",
        "python3 manage.py --name @option.v@",
        "cat <<EOF | sh\necho fixed\nEOF\necho @option.v@",
        "echo eval; echo @option.v@",
        "sudo -u deploy ./run @option.v@",
        "x=1 # eval @option.v@",
        "echo user@example.com @@ @foo@ \"$@\"",
    ] {
        expand_script(script, None, &ctx_with("x"), &node())
            .unwrap_or_else(|e| panic!("{script}: {e}"));
    }
    // unresolved tokens are blank, non-tokens stay
    assert_eq!(
        expand_script("echo [@option.none@] a@b.c", None, &ctx_with("x"), &node()).unwrap(),
        "echo [''] a@b.c"
    );
}

#[test]
fn the_error_names_the_option_line_and_environment_variable() {
    let mut ctx = ctx_with("x");
    ctx.options.insert("db.host-name".into(), "db1".into());
    let err = expand_script(
        "echo ok\n\neval @option.db.host-name@\n",
        None,
        &ctx,
        &node(),
    )
    .unwrap_err();
    assert_eq!(crate::ErrorCode::code(&err), "script.unsafe-token");
    let text = err.to_string();
    for part in [
        "line 3",
        "@option.db.host-name@",
        "eval",
        "$RD_OPTION_DB_HOST_NAME",
        "scriptTokens: raw",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
}

#[test]
fn languages_are_detected_from_the_interpreter_then_the_shebang() {
    use crate::context::shell::Dialect::{Bash, Posix};
    use ScriptLanguage::*;
    for (script, interpreter, want) in [
        ("echo", None, Shell(Posix)),
        ("#!/bin/sh\necho", None, Shell(Posix)),
        ("#!/bin/dash\n", None, Shell(Posix)),
        ("#!/bin/bash -e\n", None, Shell(Bash)),
        ("#!/usr/bin/env bash\n", None, Shell(Bash)),
        ("#!/usr/bin/env -S zsh -f\n", None, Shell(Bash)),
        ("#!/bin/ksh\n", None, Shell(Bash)),
        ("#!/usr/bin/python3\n", None, Python),
        ("#!/usr/bin/env python3.11\n", None, Python),
        ("#!/usr/bin/perl -w\n", None, Other("/usr/bin/perl".into())),
        ("#!/usr/bin/env node\n", None, Other("node".into())),
        ("#!/bin/sh\n", Some("python3 -u"), Python),
        ("print(1)", Some("sudo -u app python3"), Python),
        ("echo", Some("bash -c"), Shell(Bash)),
        ("x", Some("ruby"), Other("ruby".into())),
    ] {
        assert_eq!(
            script_language(script, interpreter),
            want,
            "{script} {interpreter:?}"
        );
    }
}

#[test]
fn python_values_only_inside_plain_strings() {
    let py = |script: &str, v: &str| expand_script(script, Some("python3"), &ctx_with(v), &node());
    assert_eq!(
        py("name = '@option.v@'\nother = \"x@option.v@\"\n", "web 1.2").unwrap(),
        "name = 'web 1.2'\nother = \"xweb 1.2\"\n"
    );
    assert_eq!(
        py("doc = '''\n@option.v@\n'''\n", "two\nlines").unwrap(),
        "doc = '''\ntwo\nlines\n'''\n"
    );
    for (script, v, why) in [
        ("x = @option.v@", "1", "outside a string"),
        ("# @option.v@", "1", "outside a string"),
        ("x = f'{@option.v@}'", "1", "f-string"),
        ("x = f'a @option.v@'", "1", "f-string"),
        ("x = '@option.v@'", "'); import os; ('", "leave"),
        ("x = '@option.v@'", "a\\", "leave"),
        ("x = '@option.v@'", "a\nb", "leave"),
        ("x = '@option.v@'", "{x}", "leave"),
        ("# it's\nx = @option.v@ # '", "1", "outside a string"),
        ("x = 'a' + @option.v@ + 'b'", "1", "outside a string"),
    ] {
        let err = py(script, v).unwrap_err().to_string();
        assert!(err.contains(why), "{script} {v:?}: {err}");
        assert!(err.contains("RD_OPTION_V"), "{err}");
    }
    // a real interpreter prints the value
    let script = py(
        "import sys\nsys.stdout.write('@option.v@')\n",
        "a b;c$(x)`y`",
    )
    .unwrap();
    assert_eq!(run("python3", &script).unwrap(), "a b;c$(x)`y`");
}

#[test]
fn other_interpreters_refuse_every_token() {
    let err = expand_script(
        "print \"@option.v@\";",
        Some("perl"),
        &ctx_with("x"),
        &node(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("perl") && err.contains("$RD_OPTION_V"),
        "{err}"
    );
    // a script without tokens runs as written
    assert_eq!(
        expand_script("print 1; # a@b", Some("perl"), &ctx_with("x"), &node()).unwrap(),
        "print 1; # a@b"
    );
}
