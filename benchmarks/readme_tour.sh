#!/usr/bin/env bash
# Run the README's tour top to bottom: every ```bash and ```python block between
# "## A 5-minute tour" and "## Layout", in order, in a scratch folder (examples/ and suites/
# linked in), with the venv's benchbed first on PATH and its own store and cache. Exits non-zero
# at the first block that fails. Usage (after the README's second set-up command):
#
#     bash benchmarks/readme_tour.sh          # VENV=.venv BENCHBED_DATA=../shared/datasets
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-$ROOT/.venv}
# the tour runs in a scratch folder WORK whose ../shared is this checkout's ../shared (the
# README's commands use paths relative to a clone that sits next to shared/)
WORK=${WORK:-$(mktemp -d)/tour}
mkdir -p "$WORK"
[ -e "$WORK/../shared" ] || ln -s "$(cd "$ROOT/.." && pwd)/shared" "$WORK/../shared"
export PATH="$VENV/bin:$PATH"
export BENCHBED_DATA=${BENCHBED_DATA:-$ROOT/../shared/datasets}
export BENCHBED_WEIGHTS=${BENCHBED_WEIGHTS:-$ROOT/../shared/weights}
export BENCHBED_DB="sqlite:///$WORK/tour.db" BENCHBED_CACHE="$WORK/cache"
ln -sfn "$ROOT/examples" "$WORK/examples"
ln -sfn "$ROOT/suites" "$WORK/suites"
"$VENV/bin/python" - "$ROOT/README.md" "$WORK" <<'PY'
import re, sys
from pathlib import Path
text = Path(sys.argv[1]).read_text()
tour = text[text.index("## A 5-minute tour"):text.index("## Layout")]
for i, (lang, body) in enumerate(re.findall(r"^```(bash|python)\n(.*?)^```", tour, re.M | re.S)):
    Path(sys.argv[2], f"block-{i:02d}.{'sh' if lang == 'bash' else 'py'}").write_text(body)
PY
cd "$WORK"
for block in block-*; do
    echo "== $block ($(date -u +%T)Z)"
    sed 's/^/   | /' "$block"
    start=$(date +%s)
    if [[ $block == *.sh ]]; then bash -euo pipefail "$block"; else python "$block"; fi
    echo "== $block ok in $(( $(date +%s) - start )) s"
done
echo "== README tour: every block ran ($WORK)"
