#!/usr/bin/env bash
# Draws N random LFM2 configurations, builds each with transformers
# (scripts/make_lfm2_fixture.py) and checks `lfm logits --generate --reference` against it.
# Needs a Python with torch + transformers (PYTHON=...), and a built `lfm` (LFM=...).
# Usage: scripts/check_random_fixtures.sh [N] [SEED]
set -euo pipefail
N=${1:-8}
SEED=${2:-1}
PYTHON=${PYTHON:-python3}
LFM=${LFM:-target/release/lfm}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
RANDOM=$SEED
pass=0
for i in $(seq 1 "$N"); do
  kv=$((1 + RANDOM % 3)); group=$((1 + RANDOM % 3)); heads=$((kv * group))
  hd=$((4 * (1 + RANDOM % 4))); hidden=$((heads * hd))
  layers=$((2 + RANDOM % 5)); types=""
  for _ in $(seq 1 "$layers"); do if ((RANDOM % 2)); then types+="a"; else types+="c"; fi; done
  [[ $types == *a* ]] || types="${types:1}a"   # transformers' generate needs one attention layer
  L=$((2 + RANDOM % 4)); vocab=$((64 + RANDOM % 400)); ff=$((hidden + RANDOM % (3 * hidden)))
  thetas=(10000 500000 1000000 2500000); theta=${thetas[$((RANDOM % 4))]}
  extra=(); ((RANDOM % 3 == 0)) && extra+=(--untied); ((RANDOM % 4 == 0)) && extra+=(--conv-bias)
  ((RANDOM % 4 == 0)) && extra+=(--no-auto-adjust)
  args=(--seed "$i" --hidden "$hidden" --layers "$layers" --layer-types "$types" --heads "$heads"
        --kv-heads "$kv" --vocab "$vocab" --ff "$ff" --multiple-of 8 --conv-l-cache "$L"
        --rope-theta "$theta" --batch 2 --seq-len $((3 + RANDOM % 20)) --gen-tokens 6 "${extra[@]}")
  "$PYTHON" scripts/make_lfm2_fixture.py --out "$WORK/f$i" "${args[@]}" > "$WORK/log$i" 2>&1
  echo "[$i] ${args[*]}"
  "$LFM" logits --model "$WORK/f$i" --input "$WORK/f$i/reference.safetensors" --out "$WORK/o$i.safetensors" \
    --generate 6 --reference "$WORK/f$i/reference.safetensors" | sed 's/^/    /'
  pass=$((pass + 1))
done
echo "$pass passed, 0 failed"
