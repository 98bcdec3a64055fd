//! The command lines sent to the node: environment exports, script argv, and
//! the wrapper that ties the remote process's life to the SSH channel.

use foredeck_core::shell_quote;
use std::time::Duration;

/// Whether `name` can be exported by a POSIX shell.
pub(crate) fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// `export K='V'` lines for the environment, or the first invalid name.
pub(crate) fn env_exports(env: &[(String, String)]) -> Result<String, String> {
    let mut out = String::new();
    for (k, v) in env {
        if !valid_env_name(k) {
            return Err(k.clone());
        }
        out.push_str("export ");
        out.push_str(k);
        out.push('=');
        out.push_str(&shell_quote(v));
        out.push('\n');
    }
    Ok(out)
}

/// The command line running a script at `path`, as `LocalExecutor` runs it:
/// with its interpreter (split on whitespace) if any, else with `/bin/sh`
/// when the content has no `#!`, else directly. With `args_quoted`, path and
/// arguments are one quoted argument of the interpreter.
pub(crate) fn script_line(
    path: &str,
    content: &[u8],
    args: &[String],
    interpreter: Option<&str>,
    args_quoted: bool,
) -> String {
    let interpreter = interpreter
        .filter(|i| !i.trim().is_empty())
        .or((!content.starts_with(b"#!")).then_some("/bin/sh"));
    let quoted_script: Vec<String> = std::iter::once(path)
        .chain(args.iter().map(String::as_str))
        .map(shell_quote)
        .collect();
    let Some(interp) = interpreter else {
        return quoted_script.join(" ");
    };
    let mut argv: Vec<String> = interp.split_whitespace().map(shell_quote).collect();
    if args_quoted {
        argv.push(shell_quote(&quoted_script.join(" ")));
    } else {
        argv.extend(quoted_script);
    }
    argv.join(" ")
}

/// Wraps a command line for the node's shell so that closing the channel's
/// input ends it.
///
/// sshd does not kill a non-pty session's processes when its channel closes,
/// and many sshd ignore `signal` requests. So the wrapper starts a watcher in
/// the background that reads the channel's stdin (the executor never writes
/// to it). When the executor aborts, it sends EOF; the watcher then, if the
/// command's shell is still running, sends `SIGTERM` to the session's process
/// group (sshd makes every session its own group) and `SIGKILL` after
/// `grace`. When the connection drops, sshd closes the pipe and the same
/// happens. After a normal end sshd closes the pipe too, but the command's
/// shell is gone then, so leftovers it started in the background survive,
/// as they would with plain ssh. The command itself reads `/dev/null`.
pub(crate) fn wrap(exports: &str, line: &str, grace: Duration) -> String {
    let grace = grace.as_secs().max(1);
    format!(
        "exec 3<&0\n\
         {{ exec 3<&- >/dev/null 2>&1; cat; trap '' TERM; \
         if kill -0 $$; then kill -TERM 0; sleep {grace}; kill -KILL 0; fi; }} <&3 &\n\
         exec 3<&- </dev/null\n\
         {exports}{line}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_checked_and_values_quoted() {
        assert!(valid_env_name("RD_OPTION_X"));
        assert!(valid_env_name("_a1"));
        assert!(!valid_env_name("1A"));
        assert!(!valid_env_name("A-B"));
        assert!(!valid_env_name(""));
        assert_eq!(
            env_exports(&[("A".into(), "it's".into())]).expect("valid"),
            "export A='it'\\''s'\n"
        );
        assert_eq!(
            env_exports(&[("A;rm".into(), "x".into())]).expect_err("invalid"),
            "A;rm"
        );
    }

    #[test]
    fn script_lines() {
        let args = vec!["a b".to_owned(), "c".to_owned()];
        assert_eq!(
            script_line("/tmp/s", b"#!/bin/bash\n", &args, None, false),
            "'/tmp/s' 'a b' 'c'"
        );
        assert_eq!(
            script_line("/tmp/s", b"echo\n", &args, None, false),
            "'/bin/sh' '/tmp/s' 'a b' 'c'"
        );
        assert_eq!(
            script_line("/tmp/s", b"echo\n", &args, Some("bash -c"), true),
            "'bash' '-c' ''\\''/tmp/s'\\'' '\\''a b'\\'' '\\''c'\\'''"
        );
    }
}
