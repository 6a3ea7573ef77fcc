#!/usr/bin/env bash
# Regenerate leaderboard/ (the published results committed to git) in one command:
#
#     bash benchmarks/publish_leaderboard.sh            # standard suites, --limit 10
#     LIMIT=20 WORKERS=2 bash benchmarks/publish_leaderboard.sh
#     SUITES="quickstart sweep-noise" bash benchmarks/publish_leaderboard.sh
#     SUITES="recofuse-seed:5" ...     # NAME:N runs that suite with --limit N instead of $LIMIT
#
# 1. runs each standard suite on the shared data (BENCHBED_DATA, default ../shared/datasets)
#    with --limit $LIMIT pairs per dataset, into a dedicated store and artifact cache under
#    .benchbed/ (git-ignored); a run that is interrupted resumes where it stopped;
# 2. removes the suite folders of an earlier publish (folders of leaderboard/ holding a
#    site.json) and publishes every suite again: markdown, CSV and the static HTML site.
# leaderboard/README.md is hand-written and kept.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCHBED=${BENCHBED:-$ROOT/.venv/bin/benchbed}
[ -x "$BENCHBED" ] || BENCHBED=benchbed
LIMIT=${LIMIT:-10}
WORKERS=${WORKERS:-1}
OUT=${OUT:-leaderboard}
# The seed-pair suites (2-5 pairs per dataset) and detection-msrs (13 + 6 labelled pairs) run whole.
SUITES=${SUITES:-"quickstart drfusion-ivf drfusion-pet-mri recofuse-ivf sweep-noise sweep-blur \
drfusion-seed-ivf:5 drfusion-seed-pet-mri:5 recofuse-seed:5 detection-msrs:20"}
export BENCHBED_DATA=${BENCHBED_DATA:-$ROOT/../shared/datasets}
export BENCHBED_WEIGHTS=${BENCHBED_WEIGHTS:-$ROOT/../shared/weights}
export BENCHBED_DB=${BENCHBED_DB:-sqlite:///$ROOT/.benchbed/leaderboard.db}
export BENCHBED_CACHE=${BENCHBED_CACHE:-$ROOT/.benchbed/cache}
mkdir -p "$ROOT/.benchbed"

publish_args=()
for entry in $SUITES; do
    suite=${entry%%:*}
    limit=$LIMIT
    [ "$suite" = "$entry" ] || limit=${entry#*:}
    start=$(date +%s)
    echo "== run $suite (--limit $limit, --workers $WORKERS)"
    "$BENCHBED" run "suites/$suite.yaml" --limit "$limit" --workers "$WORKERS" --no-progress \
        --no-show
    echo "== $suite: $(( $(date +%s) - start )) s"
    publish_args+=(--suite "$suite")
done

mkdir -p "$OUT"
find "$OUT" -mindepth 2 -maxdepth 2 -name site.json -print0 | while IFS= read -r -d '' meta; do
    rm -rf -- "$(dirname "$meta")"
done
"$BENCHBED" leaderboard publish "${publish_args[@]}" --out "$OUT" \
    --note "standard suite on the shared datasets, --limit $LIMIT pairs per dataset (seed-pair suites: all pairs) (the demo suite uses its built-in pairs); regenerate with: LIMIT=$LIMIT bash benchmarks/publish_leaderboard.sh"
echo "== published to $OUT/index.html"
