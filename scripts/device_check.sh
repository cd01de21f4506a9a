#!/usr/bin/env bash
# The prepared GPU check: one unattended run on a machine with one NVIDIA GPU (under 8 minutes
# on an H100 with a warm cargo cache), writing one JSON file.
#
#   scripts/device_check.sh [--device cuda|cpu] [--out FILE.json] [--budget SECONDS]
#
# Steps (each under its own timeout; a failed step is recorded and the next one runs):
#   1. build:    cargo build --release -p lfm-cli --features cuda
#   2. parity:   the transformers parity tests on the device
#                (LFM_TEST_DEVICE=cuda cargo test --release -p lfm-model --features cuda --test parity)
#   3. train:    20 steps of the configs/lfm2-350m-cpt.toml recipe on a random 350M model
#                (preset lfm2-350m, bf16, seq_len 4096, micro_batch 8, the optimizer and schedule
#                of the recipe) on the bundled corpus with a freshly trained 8192-token BPE:
#                tokens/s from metrics.jsonl, peak GPU memory polled from nvidia-smi
#   4. bench:    lfm bench inference rows on the device: prefill_512, decode at b = 1, 8, 64, 256
#
# `--device cpu` is the fall-back that CI and machines without a GPU can run: no cuda feature,
# the `tiny` preset, seq_len 128, micro_batch 4, the bench rows at b = 1, 8 and 64.
set -uo pipefail
cd "$(dirname "$0")/.."

DEVICE=cuda; OUT=device_check.json; BUDGET=470
while [ $# -gt 0 ]; do
  case $1 in
    --device) DEVICE=$2; shift 2;;
    --out) OUT=$2; shift 2;;
    --budget) BUDGET=$2; shift 2;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
case $DEVICE in cuda|cpu) ;; *) echo "--device must be cuda or cpu" >&2; exit 2;; esac

START=$SECONDS
SMI_PID=""
WORK=$(mktemp -d); trap '[ -n "$SMI_PID" ] && kill "$SMI_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
STEPS="$WORK/steps.jsonl"; : > "$STEPS"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
LFM="$CARGO_TARGET_DIR/release/lfm"
if [ "$DEVICE" = cuda ]; then FEATURES=(--features cuda); PRESET=lfm2-350m; SEQ=4096; MB=8; BATCHES="1 8 64 256"
else FEATURES=(); PRESET=tiny; SEQ=128; MB=4; BATCHES="1 8 64"; fi

left() { echo $(( BUDGET - (SECONDS - START) )); }
# step NAME MAX_SECONDS CMD...: runs CMD with a timeout (never past the budget), logs it,
# records {name, rc, seconds} in the steps file.
step() {
  local name=$1 max=$2; shift 2
  local t=$(left); [ "$t" -lt "$max" ] && max=$t
  if [ "$max" -le 5 ]; then
    echo "== $name: skipped (budget spent)"
    echo "{\"name\": \"$name\", \"rc\": null, \"seconds\": 0, \"skipped\": true}" >> "$STEPS"
    return 1
  fi
  echo "== $name (timeout ${max}s)"
  local t0=$SECONDS
  timeout "$max" "$@" > "$WORK/$name.log" 2>&1
  local rc=$?
  tail -5 "$WORK/$name.log"
  echo "{\"name\": \"$name\", \"rc\": $rc, \"seconds\": $(( SECONDS - t0 ))}" >> "$STEPS"
  return $rc
}

step build 300 cargo build --release -q -p lfm-cli "${FEATURES[@]}"
step parity 120 env LFM_TEST_DEVICE=$DEVICE cargo test --release -q -p lfm-model "${FEATURES[@]}" --test parity

# Training data: the bundled corpus, its own BPE.
step data 60 bash -c "'$LFM' tokenizer train --input data/corpus/jargon.jsonl --vocab-size 8192 --out '$WORK/tok' &&
  '$LFM' data build --input data/corpus/jargon.jsonl --tokenizer '$WORK/tok/tokenizer.json' --out '$WORK/data'"
# configs/lfm2-350m-cpt.toml with a random model of the preset, this data, 20 steps, no evals.
sed -e '/^init_from/d' \
    -e "s|^\[model\]|[model]\npreset = \"$PRESET\"\ninit_std = 0.02|" \
    -e "s|^dataset = .*|dataset = \"$WORK/data\"|" \
    -e "s|^seq_len = .*|seq_len = $SEQ|" \
    -e "s|^micro_batch = .*|micro_batch = $MB|" \
    -e "s|^tokens_per_step = .*|grad_accum = 1|" \
    -e 's|^steps = .*|steps = 20|' \
    -e 's|^warmup_steps = .*|warmup_steps = 5|' \
    -e "s|^out = .*|out = \"$WORK/run\"|" \
    -e 's|^eval_every = .*|eval_every = 1000|' \
    -e 's|^checkpoint_every = .*|checkpoint_every = 1000|' \
    -e "s|^device = .*|device = \"$DEVICE\"|" \
    -e "s|^precision = .*|precision = \"$( [ "$DEVICE" = cuda ] && echo bf16 || echo f32 )\"|" \
    configs/lfm2-350m-cpt.toml > "$WORK/train.toml"
if [ "$DEVICE" = cuda ] && command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 250 > "$WORK/gpu_mem.txt" 2>/dev/null &
  SMI_PID=$!
fi
step train 150 "$LFM" train pretrain --config "$WORK/train.toml"
if [ -n "$SMI_PID" ]; then kill "$SMI_PID" 2>/dev/null; SMI_PID=""; fi

ROWS=prefill_512_f32
for b in $BATCHES; do ROWS="$ROWS,decode_b${b}_f32"; done
step bench 150 "$LFM" bench --device "$DEVICE" --preset "$PRESET" --repeats 1 --only "$ROWS" --json "$WORK/bench.json"

python3 - "$OUT" "$DEVICE" "$PRESET" "$STEPS" "$WORK" <<'PY'
import json, os, subprocess, sys
out, device, preset, steps_file, work = sys.argv[1:]
def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return None
r = {"device": device, "preset": preset, "steps": [json.loads(l) for l in open(steps_file)],
     "git": run(["git", "rev-parse", "HEAD"]),
     "gpu": run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"]) if device == "cuda" else None}
m = os.path.join(work, "run", "metrics.jsonl")
if os.path.exists(m):
    rows = [json.loads(l) for l in open(m) if l.strip()]
    train = [x for x in rows if "loss" in x and "step" in x]
    if train:
        tps = [x.get("tokens_per_s") for x in train[5:] if x.get("tokens_per_s")]
        r["train"] = {"steps": len(train), "first_loss": train[0]["loss"], "last_loss": train[-1]["loss"],
                      "tokens_per_s_median_after_5": sorted(tps)[len(tps) // 2] if tps else None}
g = os.path.join(work, "gpu_mem.txt")
if os.path.exists(g):
    vals = [int(v) for v in open(g).read().split() if v.isdigit()]
    r.setdefault("train", {})["peak_gpu_memory_mib"] = max(vals) if vals else None
b = os.path.join(work, "bench.json")
if os.path.exists(b):
    r["bench"] = json.load(open(b))
json.dump(r, open(out, "w"), indent=1)
print("wrote", out)
PY
echo "total $(( SECONDS - START ))s"
