#!/usr/bin/env bash
# Builds the virtual environment of Rundeck's own clients that
# tests/rundeck_clients.rs drives Foredeck with: python-rundeck and
# ansible-core from tests/clients/requirements.txt, plus the community.general
# collection (its rundeck modules) taken from the pinned `ansible` wheel, as
# PyPI is reachable where Ansible Galaxy may not be. Prints the directory.
# Reuses the environment while the requirements are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
ANSIBLE_WHEEL_VERSION=12.3.0 # ships community.general 11.x
target="${CARGO_TARGET_DIR:-target}"
venv="$(mkdir -p "$target" && cd "$target" && pwd)/client-venv"
stamp="$venv/.requirements"
want="$(cat tests/clients/requirements.txt; echo "ansible==$ANSIBLE_WHEEL_VERSION")"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$venv"
  exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv" >&2
pip() { "$venv/bin/python" -m pip --quiet --disable-pip-version-check "$@"; }
pip install -r tests/clients/requirements.txt >&2
wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT
pip download --no-deps -d "$wheels" "ansible==$ANSIBLE_WHEEL_VERSION" >&2
"$venv/bin/python" - "$wheels"/ansible-*.whl "$venv/collections" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
prefix = "ansible_collections/community/general/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and ".." not in name.split("/"):
            z.extract(name, dest)
PY
printf '%s' "$want" > "$stamp"
echo "$venv"
