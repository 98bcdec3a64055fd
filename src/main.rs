//! The `foredeck` command.

fn main() {
    eprintln!("foredeck: no commands yet");
    std::process::exit(2);
}
