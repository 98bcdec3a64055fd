//! The optional TOML file of `foredeck serve` settings.
//!
//! Its keys are the long flag names (`port = 4440`, `database-url = "..."`,
//! `ssh-user = "deploy"`). A setting comes from, in order: the command line,
//! the environment (`FOREDECK_*`), the file, the default. The file is the
//! one `--config` names, else `<data-dir>/foredeck.toml` when it exists.
//! Unknown keys and values of the wrong type are errors naming the file,
//! the key and the line; no value of the file is ever printed (a database
//! URL may hold a password).

use super::serve::ServeArgs;
use anyhow::Context;
use clap::parser::ValueSource;
use clap::ArgMatches;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Name of the file read from the data directory.
pub const DEFAULT_FILE: &str = "foredeck.toml";

/// What the file may set: the flags of `serve`, by their long names.
#[derive(Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    bind: Option<IpAddr>,
    port: Option<u16>,
    data_dir: Option<Spanned<PathBuf>>,
    ssh_key: Option<PathBuf>,
    ssh_agent: Option<bool>,
    ssh_password_env: Option<String>,
    ssh_host_key_policy: Option<Spanned<String>>,
    ssh_user: Option<String>,
    ssh_connect_timeout: Option<u64>,
    server_url: Option<String>,
    smtp_host: Option<String>,
    smtp_port: Option<u16>,
    smtp_security: Option<super::notify_args::Security>,
    smtp_user: Option<String>,
    smtp_from: Option<String>,
    max_connections: Option<Spanned<u32>>,
    max_connections_per_address: Option<Spanned<u32>>,
    log_format: Option<super::logging::LogFormat>,
}

/// Fills the settings given neither on the command line nor in the
/// environment from the configuration file, if there is one; returns the
/// file read. `m` are the matches of the `serve` subcommand.
pub fn apply(args: &mut ServeArgs, m: &ArgMatches) -> anyhow::Result<Option<PathBuf>> {
    let (path, named) = match &args.config {
        Some(p) => (p.clone(), true),
        None => (args.ssh.data_dir.join(DEFAULT_FILE), false),
    };
    if !named && !path.exists() {
        return Ok(None);
    }
    let text = super::read_text(&path).context("reading the configuration file")?;
    let file = parse(&text, &path)?;
    merge(args, m, file, &text, &path, named)?;
    Ok(Some(path))
}

/// `file:line:column: ...`, 1-based, for a byte offset of `text`.
fn at(path: &Path, text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{}:{line}:{column}", path.display())
}

fn parse(text: &str, path: &Path) -> anyhow::Result<FileConfig> {
    let de = toml::Deserializer::parse(text).map_err(|e| {
        // the message only: toml's own rendering quotes the line, which
        // may hold a secret
        let offset = e.span().map_or(0, |s| s.start);
        anyhow::anyhow!(
            "{}: not valid TOML: {}",
            at(path, text, offset),
            e.message()
        )
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        let offset = inner.span().map_or(0, |s| s.start);
        let message = inner.message();
        let where_ = at(path, text, offset);
        if let Some(rest) = message.strip_prefix("unknown field ") {
            // the span is the unknown key's
            let name = inner
                .span()
                .and_then(|s| text.get(s))
                .map_or_else(|| rest.split(',').next().unwrap_or(rest).to_owned(), |k| format!("`{}`", k.trim()));
            anyhow::anyhow!(
                "{where_}: unknown key {name}; the keys are the long flag names of `foredeck serve`: {}",
                KEYS.join(", ")
            )
        } else {
            anyhow::anyhow!("{where_}: key `{key}`: {message}")
        }
    })
}

/// The keys [`FileConfig`] reads, in the order of `--help`.
const KEYS: [&str; 19] = [
    "database-url",
    "bind",
    "port",
    "data-dir",
    "ssh-key",
    "ssh-agent",
    "ssh-password-env",
    "ssh-host-key-policy",
    "ssh-user",
    "ssh-connect-timeout",
    "server-url",
    "smtp-host",
    "smtp-port",
    "smtp-security",
    "smtp-user",
    "smtp-from",
    "max-connections",
    "max-connections-per-address",
    "log-format",
];

/// Whether the value of argument `id` may come from the file: it was given
/// neither on the command line nor in the environment.
fn open(m: &ArgMatches, id: &str) -> bool {
    matches!(m.value_source(id), None | Some(ValueSource::DefaultValue))
}

fn merge(
    a: &mut ServeArgs,
    m: &ArgMatches,
    f: FileConfig,
    text: &str,
    path: &Path,
    named: bool,
) -> anyhow::Result<()> {
    // relative paths in the file are relative to the file's directory
    let base = path.parent().unwrap_or(Path::new(""));
    let resolve = |p: PathBuf| if p.is_relative() { base.join(p) } else { p };
    macro_rules! take {
        ($id:literal, $field:expr, $value:expr) => {
            if let Some(v) = $value {
                if open(m, $id) {
                    $field = v;
                }
            }
        };
    }
    take!("database_url", a.database_url, f.database_url.map(Some));
    take!("bind", a.bind, f.bind);
    take!("port", a.port, f.port);
    if let Some(dir) = f.data_dir {
        if !named {
            anyhow::bail!(
                "{}: key `data-dir`: the data directory's own {DEFAULT_FILE} cannot move it; \
                 name a file with --config instead",
                at(path, text, dir.span().start)
            );
        }
        take!("data_dir", a.ssh.data_dir, Some(resolve(dir.into_inner())));
    }
    take!("ssh_key", a.ssh.ssh_key, f.ssh_key.map(resolve).map(Some));
    take!("ssh_agent", a.ssh.ssh_agent, f.ssh_agent);
    take!(
        "ssh_password_env",
        a.ssh.ssh_password_env,
        f.ssh_password_env.map(Some)
    );
    if let Some(policy) = f.ssh_host_key_policy {
        if let Err(e) = policy.get_ref().parse::<foredeck_ssh::HostKeyPolicy>() {
            anyhow::bail!(
                "{}: key `ssh-host-key-policy`: {e}",
                at(path, text, policy.span().start)
            );
        }
        take!(
            "ssh_host_key_policy",
            a.ssh.ssh_host_key_policy,
            Some(policy.into_inner())
        );
    }
    take!("ssh_user", a.ssh.ssh_user, f.ssh_user);
    take!(
        "ssh_connect_timeout",
        a.ssh.ssh_connect_timeout,
        f.ssh_connect_timeout
    );
    take!("server_url", a.notify.server_url, f.server_url.map(Some));
    take!("smtp_host", a.notify.smtp_host, f.smtp_host.map(Some));
    take!("smtp_port", a.notify.smtp_port, f.smtp_port.map(Some));
    take!("smtp_security", a.notify.smtp_security, f.smtp_security);
    take!("smtp_user", a.notify.smtp_user, f.smtp_user.map(Some));
    take!("smtp_from", a.notify.smtp_from, f.smtp_from);
    let at_least_one = |key: &str, v: Spanned<u32>| -> anyhow::Result<u32> {
        if *v.get_ref() == 0 {
            anyhow::bail!(
                "{}: key `{key}`: must be at least 1",
                at(path, text, v.span().start)
            );
        }
        Ok(v.into_inner())
    };
    if let Some(v) = f.max_connections {
        let v = at_least_one("max-connections", v)?;
        take!("max_connections", a.max_connections, Some(Some(v)));
    }
    if let Some(v) = f.max_connections_per_address {
        let v = at_least_one("max-connections-per-address", v)?;
        take!(
            "max_connections_per_address",
            a.max_connections_per_address,
            Some(v)
        );
    }
    take!("log_format", a.log_format, f.log_format);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn parsed(argv: &[&str]) -> (ServeArgs, ArgMatches) {
        let m = Wrap::command()
            .try_get_matches_from(std::iter::once("serve").chain(argv.iter().copied()))
            .unwrap();
        (Wrap::from_arg_matches(&m).unwrap().serve, m)
    }

    fn merged(argv: &[&str], toml: &str) -> anyhow::Result<ServeArgs> {
        let (mut a, m) = parsed(argv);
        let path = Path::new("/etc/foredeck/serve.toml");
        let f = parse(toml, path)?;
        merge(&mut a, &m, f, toml, path, true)?;
        Ok(a)
    }

    #[test]
    fn every_key_is_read_and_flags_win() {
        let toml = r#"
database-url = "postgres://fd@db/fd"
bind = "0.0.0.0"
port = 8080
data-dir = "data"
ssh-key = "/keys/id_ed25519"
ssh-agent = true
ssh-password-env = "SSH_PW"
ssh-host-key-policy = "strict"
ssh-user = "deploy"
ssh-connect-timeout = 3
server-url = "https://ops.example.com"
smtp-host = "mail"
smtp-port = 2525
smtp-security = "tls"
smtp-user = "robot"
smtp-from = "Ops <ops@example.com>"
max-connections = 900
max-connections-per-address = 30
log-format = "json"
"#;
        let a = merged(&[], toml).unwrap();
        assert_eq!(a.database_url.as_deref(), Some("postgres://fd@db/fd"));
        assert_eq!(a.bind.to_string(), "0.0.0.0");
        assert_eq!(a.port, 8080);
        assert_eq!(a.ssh.data_dir, Path::new("/etc/foredeck/data"));
        assert_eq!(
            a.ssh.ssh_key.as_deref(),
            Some(Path::new("/keys/id_ed25519"))
        );
        assert!(a.ssh.ssh_agent);
        assert_eq!(a.ssh.ssh_password_env.as_deref(), Some("SSH_PW"));
        assert_eq!(a.ssh.ssh_host_key_policy, "strict");
        assert_eq!(a.ssh.ssh_user, "deploy");
        assert_eq!(a.ssh.ssh_connect_timeout, 3);
        assert_eq!(
            a.notify.server_url.as_deref(),
            Some("https://ops.example.com")
        );
        assert_eq!(a.notify.smtp_host.as_deref(), Some("mail"));
        assert_eq!(a.notify.smtp_port, Some(2525));
        assert!(matches!(
            a.notify.smtp_security,
            super::super::notify_args::Security::Tls
        ));
        assert_eq!(a.notify.smtp_user.as_deref(), Some("robot"));
        assert_eq!(a.notify.smtp_from, "Ops <ops@example.com>");
        assert_eq!(a.max_connections, Some(900));
        assert_eq!(a.max_connections_per_address, 30);
        assert_eq!(a.log_format, super::super::logging::LogFormat::Json);
        assert_eq!(toml.matches(" = ").count(), KEYS.len(), "a case per key");

        let a = merged(
            &["--port", "1", "--ssh-user", "me", "--data-dir", "/d"],
            toml,
        )
        .unwrap();
        assert_eq!((a.port, a.ssh.ssh_user.as_str()), (1, "me"));
        assert_eq!(a.ssh.data_dir, Path::new("/d"));
        assert_eq!(a.bind.to_string(), "0.0.0.0");
    }

    #[test]
    fn the_readme_example_is_a_valid_file() {
        let readme = include_str!("../../README.md");
        let block = readme
            .split("```toml\n")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .unwrap();
        let a = merged(&[], block).unwrap();
        assert_eq!(a.ssh.ssh_user, "deploy");
        assert_eq!(
            a.ssh.ssh_key.unwrap(),
            Path::new("/etc/foredeck/keys/id_ed25519")
        );
    }

    #[test]
    fn an_empty_file_changes_nothing() {
        let a = merged(&[], "# nothing\n").unwrap();
        assert_eq!((a.port, a.bind.to_string().as_str()), (4440, "127.0.0.1"));
        assert_eq!(a.ssh.ssh_user, "root");
    }

    #[test]
    fn bad_files_name_the_file_the_key_and_the_line() {
        let cases: &[(&str, &str)] = &[
            (
                "port = 1\nprot = 2\n",
                "/etc/foredeck/serve.toml:2:1: unknown key `prot`",
            ),
            (
                "\n\nport = \"many\"\n",
                "/etc/foredeck/serve.toml:3:8: key `port`: invalid type: string",
            ),
            (
                "port = 99999\n",
                "/etc/foredeck/serve.toml:1:8: key `port`:",
            ),
            (
                "bind = \"everywhere\"\n",
                "/etc/foredeck/serve.toml:1:8: key `bind`: invalid IP address",
            ),
            (
                "smtp-security = \"ssl\"\n",
                "/etc/foredeck/serve.toml:1:17: key `smtp-security`: unknown variant `ssl`",
            ),
            (
                "ssh-host-key-policy = \"maybe\"\n",
                "/etc/foredeck/serve.toml:1:23: key `ssh-host-key-policy`:",
            ),
            (
                "[ssh]\nuser = \"x\"\n",
                "/etc/foredeck/serve.toml:1:2: unknown key `ssh`",
            ),
            (
                "max-connections = 0\n",
                "/etc/foredeck/serve.toml:1:19: key `max-connections`: must be at least 1",
            ),
            (
                "log-format = \"xml\"\n",
                "/etc/foredeck/serve.toml:1:14: key `log-format`: unknown variant `xml`",
            ),
            (
                "port = = 3\n",
                "/etc/foredeck/serve.toml:1:8: not valid TOML",
            ),
        ];
        for (toml, want) in cases {
            let err = format!("{:#}", merged(&[], toml).err().unwrap());
            assert!(err.starts_with(want), "{toml:?}: {err}");
        }
    }

    #[test]
    fn no_value_of_the_file_is_printed() {
        let secret = "postgres://fd:hunter2@db/fd";
        for toml in [
            format!("database-url = \"{secret}\"\nport = \"x\"\n"),
            format!("database-url = \"{secret}\nport = 1\n"),
            format!("database-url = [\"{secret}\"]\n"),
            format!("database-url = \"{secret}\" nonsense\n"),
        ] {
            let err = format!("{:#}", merged(&[], &toml).err().unwrap());
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn the_data_directory_file_cannot_move_the_data_directory() {
        let (mut a, m) = parsed(&[]);
        let path = Path::new("foredeck-data/foredeck.toml");
        let toml = "data-dir = \"/elsewhere\"\n";
        let err = merge(&mut a, &m, parse(toml, path).unwrap(), toml, path, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("foredeck-data/foredeck.toml:1:12: key `data-dir`"),
            "{err}"
        );
    }
}
