#!/usr/bin/env bash
# Runs every test of the workspace from a fresh machine: installs what the
# tests need when it is missing, then runs the suite.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v sh >/dev/null || need_apt+=(dash)
# crates/ssh tests run a real OpenSSH sshd (and ssh-keygen) on loopback
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v ssh-keygen >/dev/null || need_apt+=(openssh-client)
if ((${#need_apt[@]})); then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -q
  $SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}"
fi

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
  # nextest does not run doctests
  cargo test --workspace --doc
else
  cargo test --workspace --no-fail-fast "$@"
fi
