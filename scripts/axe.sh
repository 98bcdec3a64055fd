#!/usr/bin/env bash
# Installs axe-core (pinned) from npm for the web UI's browser tests
# (crates/http/src/ui/browser.rs injects it into each page) and prints the
# path of its axe.min.js. Reuses the install while the version is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
AXE_VERSION=4.11.0
target="${CARGO_TARGET_DIR:-target}"
dir="$(mkdir -p "$target" && cd "$target" && pwd)/axe"
file="$dir/node_modules/axe-core/axe.min.js"
if [ -f "$dir/.version" ] && [ "$(cat "$dir/.version")" = "$AXE_VERSION" ] && [ -f "$file" ]; then
  echo "$file"
  exit 0
fi
rm -rf "$dir"
mkdir -p "$dir"
npm install --prefix "$dir" --no-audit --no-fund --silent "axe-core@$AXE_VERSION" >&2
echo "$AXE_VERSION" >"$dir/.version"
echo "$file"
