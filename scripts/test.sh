#!/usr/bin/env bash
# Runs every test of the workspace from a fresh machine: installs what the
# tests need when it is missing, then runs the suite.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
need_apt=()
command -v sh >/dev/null || need_apt+=(dash)
# crates/ssh tests run a real OpenSSH sshd (and ssh-keygen) on loopback
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v ssh-keygen >/dev/null || need_apt+=(openssh-client)
# the SSH sudo tests answer a real sudo's password prompt
[ -x /usr/bin/sudo ] || need_apt+=(sudo)
# the fan-out benchmark compares with parallel-ssh
command -v parallel-ssh >/dev/null || need_apt+=(pssh)
# the Rundeck client tests build a virtual environment (scripts/client-venv.sh)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
# the web UI's browser tests drive Debian's headless Chromium through
# chromedriver, with axe-core from npm (scripts/axe.sh)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
command -v npm >/dev/null || need_apt+=(npm)
# the email notification test sends to a real SMTP server (aiosmtpd)
if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check aiosmtpd
fi
if ((${#need_apt[@]})); then
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}"
fi

# The store tests use PostgreSQL and MariaDB on 127.0.0.1; start them when
# they are installed but not running (they fail, not skip, under CI=1).
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for svc in "postgresql:5432" "mariadb:3306"; do
  name=${svc%%:*} port=${svc##*:}
  if ! port_open "$port" && command -v service >/dev/null && service --status-all 2>/dev/null | grep -q "$name"; then
    ${SUDO:-} service "$name" start || true
  fi
done

# tests/rundeck_clients.rs drives the server with Rundeck's own clients
# (python-rundeck, Ansible's community.general modules), pinned in a venv
FOREDECK_CLIENT_VENV="$(./scripts/client-venv.sh)"
export FOREDECK_CLIENT_VENV
FOREDECK_AXE_JS="$(./scripts/axe.sh)"
export FOREDECK_AXE_JS

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
  # nextest does not run doctests
  cargo test --workspace --doc
else
  cargo test --workspace --no-fail-fast "$@"
fi
