#!/usr/bin/env bash
# Runs benchmarks of two commits side by side on this machine, taking turns
# so that whatever else loads the machine hits both alike.
#
#   scripts/bench-compare.sh BEFORE AFTER [BENCH...]
#
# BEFORE and AFTER are any git revisions; BENCH defaults to engine_local,
# scheduler and http_api. Each revision is checked out in its own worktree
# and built in release mode in its own target directory under
# $BENCH_COMPARE_DIR (default target/bench-compare), so a benchmark that
# starts the `foredeck` binary starts the one of its own revision. Builds
# are kept: a second call with the same revisions only runs.
#
# ROUNDS (default 2) rounds, each running every benchmark once per revision,
# BEFORE first in odd rounds and AFTER first in even ones. Every run's output
# goes to $BENCH_COMPARE_DIR/results/<bench>.<rev>.<round>.txt; the BENCH_*
# variables of the benchmarks (README.md) pass through.
# BENCH_COMPARE_BUILD_ONLY=1 builds and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

if (($# < 2)); then
  sed -n '2,18p' "$0" >&2
  exit 2
fi
revs=("$(git rev-parse --short=10 "$1^{commit}")" "$(git rev-parse --short=10 "$2^{commit}")")
shift 2
benches=("$@")
((${#benches[@]})) || benches=(engine_local scheduler http_api)
dir=${BENCH_COMPARE_DIR:-$PWD/target/bench-compare}
rounds=${ROUNDS:-2}
mkdir -p "$dir/results"
dir=$(cd "$dir" && pwd)

bench_args=()
for b in "${benches[@]}"; do bench_args+=(--bench "$b"); done

for rev in "${revs[@]}"; do
  src=$dir/$rev/src
  if [ ! -d "$src" ]; then
    git worktree add --detach "$src" "$rev" >/dev/null
  fi
  echo "== building $rev ($(git log -1 --format=%s "$rev" | cut -c1-70))" >&2
  (cd "$src" && CARGO_TARGET_DIR="$dir/$rev/target" cargo bench --no-run "${bench_args[@]}")
done
[ "${BENCH_COMPARE_BUILD_ONLY:-}" = 1 ] && exit 0

for ((round = 1; round <= rounds; round++)); do
  order=("${revs[@]}")
  ((round % 2)) || order=("${revs[1]}" "${revs[0]}")
  for b in "${benches[@]}"; do
    for rev in "${order[@]}"; do
      out=$dir/results/$b.$rev.$round.txt
      echo "== round $round: $b at $rev -> $out" >&2
      (cd "$dir/$rev/src" && CARGO_TARGET_DIR="$dir/$rev/target" cargo bench --bench "$b") >"$out" 2>&1 ||
        echo "   failed: see $out" >&2
    done
  done
done
echo "results in $dir/results" >&2
