#!/usr/bin/env bash
# Regenerate leaderboard/ (the published results committed to git) in one command:
#
#     bash benchmarks/publish_leaderboard.sh                       # every standard suite
#     WORKERS=2 SUITES="drfusion-ivf drfusion-pet-mri" bash benchmarks/publish_leaderboard.sh
#
# 1. runs each suite on ALL pairs of its datasets' splits on the shared data (BENCHBED_DATA,
#    default ../shared/datasets), never with --limit, into a dedicated store and artifact cache
#    under .benchbed/ (git-ignored); a run that is interrupted (Ctrl-C, kill, end of a session)
#    resumes where it stopped when the script is run again, and the log says how far each got;
# 2. publishes only the suites whose run finished with no failed item: the files an earlier
#    publish wrote into their folders of leaderboard/ are replaced; a suite that did not finish keeps its earlier published folder
#    (the index lists every folder with its own provenance note), so a partial run never
#    shrinks a board.
# leaderboard/README.md is hand-written and kept.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCHBED=${BENCHBED:-$ROOT/.venv/bin/benchbed}
[ -x "$BENCHBED" ] || BENCHBED=benchbed
WORKERS=${WORKERS:-1}
OUT=${OUT:-leaderboard}
SUITES=${SUITES:-"quickstart drfusion-ivf drfusion-pet-mri drfusion-ablation recofuse-ivf sweep-noise \
sweep-blur drfusion-seed-ivf drfusion-seed-pet-mri recofuse-seed detection-msrs"}
export BENCHBED_DATA=${BENCHBED_DATA:-$ROOT/../shared/datasets}
export BENCHBED_WEIGHTS=${BENCHBED_WEIGHTS:-$ROOT/../shared/weights}
export BENCHBED_DB=${BENCHBED_DB:-sqlite:///$ROOT/.benchbed/leaderboard.db}
export BENCHBED_CACHE=${BENCHBED_CACHE:-$ROOT/.benchbed/cache}
mkdir -p "$ROOT/.benchbed"

done_suites=()
for suite in $SUITES; do
    start=$(date +%s)
    echo "== run $suite (all pairs, --workers $WORKERS) $(date -u +%FT%TZ)"
    if "$BENCHBED" run "suites/$suite.yaml" --workers "$WORKERS" --no-progress --no-show; then
        echo "== $suite: finished in $(( $(date +%s) - start )) s"
        done_suites+=("$suite")
    else
        echo "== $suite: NOT finished (exit $?) after $(( $(date +%s) - start )) s; rerun to resume" >&2
    fi
done

if [ ${#done_suites[@]} -eq 0 ]; then
    echo "== nothing finished; nothing published" >&2
    exit 1
fi
publish_args=()
for suite in "${done_suites[@]}"; do
    # publish replaces the files it wrote for the suite before (its manifest), nothing else
    publish_args+=(--suite "$suite")
done
mkdir -p "$OUT"
"$BENCHBED" leaderboard publish "${publish_args[@]}" --out "$OUT" \
    --note "every pair of the splits of the suite's datasets on the shared data (whole test sets) (the demo suite uses its built-in pairs); regenerate with: SUITES=<suite> bash benchmarks/publish_leaderboard.sh" \
    || { echo "== publish failed; leaderboard/ may be partly updated" >&2; exit 1; }
echo "== published ${done_suites[*]} to $OUT/index.html"
[ ${#done_suites[@]} -eq "$(echo $SUITES | wc -w)" ]
