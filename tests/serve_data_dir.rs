//! `foredeck serve` keeps its data directory private and refuses a
//! guessable bootstrap token (issue 17, finding 10).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::serve_command;
use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

// random (openssl rand -hex 32)
const TOKEN: &str = "0c7f3e91a2b84d56e7190fa3c5d2b86e41f09a7d3c5be2816f4a0d9c7b3e5a12";

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Every regular file in `dir`, with its mode.
fn file_modes(dir: &Path) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                mode(&p),
            )
        })
        .collect();
    out.sort();
    out
}

/// Starts a server on `data`; returns it and what it printed before it
/// listened.
// The child is waited for by `Serve::terminate` or its `Drop`.
#[allow(clippy::zombie_processes)]
fn start_with_banner(data: &Path) -> (common::Serve, Vec<String>) {
    let mut child = serve_command(data, TOKEN).spawn().unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut banner = Vec::new();
    loop {
        let mut l = String::new();
        assert!(out.read_line(&mut l).unwrap() > 0, "exited: {banner:?}");
        if let Some(a) = l.trim().split("listening on http://").nth(1) {
            let addr = a.to_owned();
            let serve = common::Serve {
                child,
                out,
                addr,
                token: TOKEN.into(),
                banner: banner.clone(),
            };
            return (serve, banner);
        }
        banner.push(l.trim().to_owned());
    }
}

#[test]
fn a_new_data_directory_and_its_files_are_private() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (mut server, _) = start_with_banner(&data);
    assert_eq!(server.http("GET", "/api/59/projects", "", "").0, 200);
    assert_eq!(mode(&data), 0o700);
    let files = file_modes(&data);
    for name in ["foredeck.db", "master.key", "server.uuid"] {
        assert!(files.iter().any(|(n, _)| n == name), "{files:?}");
    }
    assert!(files.iter().all(|(_, m)| m & 0o077 == 0), "{files:?}");
    assert!(server.terminate().0);
}

#[test]
fn a_loose_data_directory_is_tightened_at_start_and_the_change_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (mut first, _) = start_with_banner(&data);
    assert!(first.terminate().0);
    set_mode(&data, 0o755);
    set_mode(&data.join("foredeck.db"), 0o644);
    set_mode(&data.join("server.uuid"), 0o664);
    let (mut again, banner) = start_with_banner(&data);
    assert_eq!(mode(&data), 0o700);
    let files = file_modes(&data);
    assert!(files.iter().all(|(_, m)| m & 0o077 == 0), "{files:?}");
    let said = |suffix: &str| {
        banner
            .iter()
            .any(|l| l.starts_with("Data directory made private: ") && l.ends_with(suffix))
    };
    assert!(said("data: mode 0755 -> 0700"), "{banner:?}");
    assert!(said("foredeck.db: mode 0644 -> 0600"), "{banner:?}");
    assert!(said("server.uuid: mode 0664 -> 0600"), "{banner:?}");
    assert_eq!(again.http("GET", "/api/59/projects", "", "").0, 200);
    assert!(again.terminate().0);
}

#[test]
fn a_guessable_bootstrap_token_is_refused_and_a_random_one_accepted() {
    for chosen in [
        "bootstrap-token-for-automation-0123456789",
        "Correct-Horse-Battery-Staple-2024!",
        "0123456789abcdef0123456789abcdef0123456789abcdef",
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let mut child = serve_command(tmp.path(), chosen)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // a server that accepted the token would listen and never exit
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        for line in out.lines() {
            if line.unwrap().contains("listening on") {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server started with the bootstrap token {chosen:?}");
            }
        }
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{chosen}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("FOREDECK_BOOTSTRAP_TOKEN has about")
                && err.contains("bits of randomness; at least 128 are required")
                && err.contains("openssl rand -hex 32"),
            "{chosen}: {err}"
        );
        assert!(!err.contains(chosen), "the token is not echoed: {err}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let (mut server, _) = start_with_banner(tmp.path());
    assert_eq!(server.http("GET", "/api/59/projects", "", "").0, 200);
    assert!(server.terminate().0);
}
