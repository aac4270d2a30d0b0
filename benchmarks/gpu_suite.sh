#!/usr/bin/env bash
# Every GPU figure dakd reports, in one run: backbone throughput, end-to-end extraction
# (three backbones in one decode pass, ten crops and one; CLIP frame sampling; memory),
# training epochs at UCF-Crime scale in bf16, and scoring. JSON goes to
# benchmarks/results/<name>_<device>[_quick].json; a summary of what ran and how long it
# took to benchmarks/results/gpu_suite_<device>[_quick].json. A step that fails is
# recorded and the next one still runs.
#
#   benchmarks/gpu_suite.sh                      # on the GPU machine: under 8 minutes on one H100
#   benchmarks/gpu_suite.sh --device cpu --quick # dry run of every step on a CPU (tiny sizes)
set -uo pipefail
cd "$(dirname "$0")/.."

DEVICE=cuda
QUICK=""
WORKERS=8
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --workers) WORKERS="$2"; shift 2 ;;
    *) echo "usage: $0 [--device cuda|cpu] [--quick] [--workers N]" >&2; exit 2 ;;
  esac
done
PY="${PYTHON:-.venv/bin/python}"
export HF_HUB_OFFLINE=1
SUFFIX="${DEVICE%%:*}${QUICK:+_quick}"
OUT=benchmarks/results
mkdir -p "$OUT"
SUMMARY="$OUT/gpu_suite_${SUFFIX}.json"
STEPS=()

step() {  # step NAME LIMIT_S COMMAND...
  local name="$1" limit="$2"; shift 2
  local start=$SECONDS
  echo "== $name: $*" >&2
  timeout "$limit" "$@"
  local rc=$?
  STEPS+=("{\"step\": \"$name\", \"rc\": $rc, \"seconds\": $((SECONDS - start))}")
}

if [ -n "$QUICK" ]; then
  step backbones 300 "$PY" benchmarks/backbones.py --device "$DEVICE" --batch 1 --repeats 1 \
    --out "$OUT/backbones_${SUFFIX}.json"
  step extract 600 "$PY" benchmarks/extract.py --device "$DEVICE" --quick --workers 2 \
    --out "$OUT/extract_${SUFFIX}.json"
  step train_epochs 300 "$PY" benchmarks/train_epochs.py --device "$DEVICE" --epochs 1 --normal 30 --anomalous 30 \
    --out "$OUT/train_epochs_${SUFFIX}.json"
  step score 300 "$PY" benchmarks/score.py clip --seconds 2 --device "$DEVICE" --out "$OUT/score_clip_${SUFFIX}.json"
else
  step backbones 90 "$PY" benchmarks/backbones.py --device "$DEVICE" --precision bf16 --batch 16 --repeats 5 \
    --out "$OUT/backbones_${SUFFIX}.json"
  step extract 240 "$PY" benchmarks/extract.py --device "$DEVICE" --workers "$WORKERS" \
    --out "$OUT/extract_${SUFFIX}.json"
  step train_epochs 90 "$PY" benchmarks/train_epochs.py --device "$DEVICE" --precision bf16 --epochs 3 \
    --out "$OUT/train_epochs_${SUFFIX}_bf16.json"
  step score 60 "$PY" benchmarks/score.py clip --seconds 60 --device "$DEVICE" --out "$OUT/score_clip_${SUFFIX}.json"
fi

{
  echo "{\"device\": \"$DEVICE\", \"quick\": ${QUICK:-0}, \"seconds\": $SECONDS, \"steps\": ["
  (IFS=,; echo "${STEPS[*]}")
  echo "]}"
} > "$SUMMARY"
cat "$SUMMARY"
for s in "${STEPS[@]}"; do case "$s" in *'"rc": 0,'*) ;; *) exit 1 ;; esac; done
