//! The `foredeck` command: run jobs and inspect nodes from files.

mod cli;

use clap::{CommandFactory, FromArgMatches};

// glibc's malloc was a fifth of the server's CPU under 50 concurrent API
// clients, most of it in its locks and consolidation (benches/README.md)
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hands the memory mimalloc holds free back to the system. mimalloc keeps
/// what is freed for a second (its `purge_delay`) for reuse and returns it
/// only when it is next called after that: a server that goes idle right
/// after a large free (the 19 MiB of working memory of an Argon2 password
/// hash, at the first start or a login) would keep it resident. `force`
/// returns it at once; otherwise only what has been free for the delay.
/// The workspace's one `unsafe`: an FFI call that the mimalloc crate does
/// not wrap.
#[allow(unsafe_code)]
pub(crate) fn release_free_memory(force: bool) {
    // SAFETY: mi_collect takes no pointers; it walks mimalloc's own
    // structures (the calling thread's heap and the process's arenas) and
    // may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(force) }
}

fn main() -> std::process::ExitCode {
    // the matches are kept: `serve` fills what they got from defaults only
    // from its configuration file
    let matches = cli::Cli::command().get_matches();
    let args = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // the log and the open-files limit are set up by `cli::dispatch`:
    // `serve` reads its log format from its configuration file first
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("foredeck: cannot start the runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match runtime.block_on(cli::dispatch(args, &matches)) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("foredeck: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Raises the soft limit of open files to the hard limit, as Go programs do
/// at start: a fan-out keeps one pooled SSH connection (a descriptor) per
/// node until the run ends, and the usual soft limit of 1,024 is less than
/// a thousand nodes need.
fn raise_open_files_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                tracing::debug!("cannot raise the open files limit to {hard}: {e}");
            }
        }
    }
}
