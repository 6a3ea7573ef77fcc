#!/usr/bin/env bash
# DRFusion on a lent GPU (the device tool: one H200, ~15 minutes in all), one prepared run:
#
#     run(command="bash benchmarks/drfusion_gpu.sh", timeout_s=600)
#
# Trains the `gpu` config (base 32, ~8 M parameters, bf16 autocast, batch 64, 128-px crops) for
# the IR-VIS and the medical family, MINUTES each (default 4), then times fuse() at 640x480.
# Everything lands in $OUT (weights, provenance.json, logs, timings) for the caller to compare
# with the shipped CPU models on the same validation pairs and ship whichever validates better.
# Not run yet: no GPU was lent to the session that wrote it (see the closing notes).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/drfusion-gpu}
MINUTES=${MINUTES:-4}
mkdir -p "$OUT"
export BENCHBED_DATA=${BENCHBED_DATA:-$(pwd)/../shared/datasets}
[ -x .venv/bin/benchbed ] || { python3 -m venv .venv && .venv/bin/pip install -q torch==2.14.1 -e .; }
for fam in ivf:msrs,llvip med:pet_mri_harvard; do
    name=${fam%%:*}; data=${fam#*:}
    .venv/bin/benchbed train drfusion --config gpu --device cuda --data "$data" --out "$OUT/$name" \
        --steps 15000 --seed 2025 --set max_minutes="$MINUTES" --set val_max_side=640 \
        --set ckpt_every=500 --set log_every=50 --set export_dtype=float16 > "$OUT/$name.log" 2>&1
done
.venv/bin/python benchmarks/drfusion.py --device cuda --config gpu --random-init > "$OUT/timings.txt" 2>&1 || true
