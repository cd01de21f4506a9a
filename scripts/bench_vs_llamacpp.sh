#!/usr/bin/env bash
# lfm-rs vs llama.cpp on the very same GGUF files, same threads, back to back.
#
#   scripts/bench_vs_llamacpp.sh LLAMA_BIN_DIR [options] FILE.gguf...
#
#   LLAMA_BIN_DIR   directory with llama-bench (and llama-batched-bench for --batched)
#   --threads N     threads for both (default: all cores)
#   --rounds N      alternating rounds (lfm, llama.cpp, lfm, ...); the best of each is kept (default 3)
#   --batched B,..  also aggregate decode at these batch sizes (lfm bench decode_bB rows vs
#                   llama-batched-bench -npp 2 -ntg 128 -npl B, S_TG), e.g. --batched 8,32
#   --lfm PATH      the lfm binary (default: lfm on PATH, else target/release/lfm)
#   --json FILE     also write every measurement and ratio as JSON
#
# Per file it measures prefill of 512 tokens (llama-bench pp512 vs lfm prefill_512_FMT) and
# decode of 128 tokens at batch 1 (tg128 vs decode_b1_FMT), FMT being the type of the file's
# ffn_up tensors, and prints tokens/s and the ratio lfm / llama.cpp. Rounds alternate between
# the two programs so that both see the same machine load; each program's best round counts.
set -euo pipefail

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 2 ] || usage
LLAMA=$1; shift
THREADS=$(nproc); ROUNDS=3; BATCHED=""; JSON=""
LFM=${LFM:-}
FILES=()
while [ $# -gt 0 ]; do
  case $1 in
    --threads) THREADS=$2; shift 2;;
    --rounds) ROUNDS=$2; shift 2;;
    --batched) BATCHED=$2; shift 2;;
    --lfm) LFM=$2; shift 2;;
    --json) JSON=$2; shift 2;;
    -h|--help) usage;;
    *) FILES+=("$1"); shift;;
  esac
done
[ ${#FILES[@]} -gt 0 ] || usage
if [ -z "$LFM" ]; then
  LFM=$(command -v lfm || true)
  [ -n "$LFM" ] || LFM="$(dirname "$0")/../target/release/lfm"
fi
for b in "$LLAMA/llama-bench" "$LFM"; do [ -x "$b" ] || { echo "not executable: $b" >&2; exit 1; }; done
if [ -n "$BATCHED" ] && [ ! -x "$LLAMA/llama-batched-bench" ]; then
  echo "not executable: $LLAMA/llama-batched-bench" >&2; exit 1
fi

TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
echo "threads $THREADS, $ROUNDS rounds, $(date -u +%FT%TZ), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
: > "$TMP/results.jsonl"

for f in "${FILES[@]}"; do
  [ -f "$f" ] || { echo "no such file: $f" >&2; exit 1; }
  fmt=$(python3 - "$f" <<'EOF'
import struct, sys
# the ggml type of the first tensor named *ffn_up.weight (GGUF v3 header walk)
names = {0: "f32", 1: "f16", 2: "q4_0", 6: "q5_0", 7: "q5_1", 8: "q8_0", 12: "q4_k", 13: "q5_k", 14: "q6_k", 30: "bf16"}
b = open(sys.argv[1], "rb").read(64 << 20)
o = 4 + 4
nt, nkv = struct.unpack_from("<QQ", b, o); o += 16
def s(o):
    n, = struct.unpack_from("<Q", b, o); return b[o + 8:o + 8 + n].decode(), o + 8 + n
size = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
def val(t, o):
    if t == 8: return s(o)[1]
    if t == 9:
        et, n = struct.unpack_from("<IQ", b, o); o += 12
        for _ in range(n): o = val(et, o)
        return o
    return o + size[t]
for _ in range(nkv):
    _, o = s(o); t, = struct.unpack_from("<I", b, o); o = val(t, o + 4)
for _ in range(nt):
    name, o = s(o); nd, = struct.unpack_from("<I", b, o); o += 4 + 8 * nd
    ty, = struct.unpack_from("<I", b, o); o += 4 + 8
    if name.endswith("ffn_up.weight"):
        print(names.get(ty, "t%d" % ty)); break
EOF
)
  rows="prefill_512_$fmt,decode_b1_$fmt"
  for b in ${BATCHED//,/ }; do rows="$rows,decode_b${b}_$fmt"; done
  for r in $(seq "$ROUNDS"); do
    "$LFM" bench --model "$f" --threads "$THREADS" --repeats 1 --only "$rows" --json "$TMP/lfm-$r.json" >/dev/null 2>"$TMP/lfm.err" \
      || { cat "$TMP/lfm.err" >&2; exit 1; }
    python3 - "$TMP/lfm-$r.json" "$f" "$fmt" >>"$TMP/results.jsonl" <<'EOF'
import json, sys
for o in json.load(open(sys.argv[1])):
    kind, b = ("prefill", 1) if o["name"].startswith("prefill") else ("decode", int(o["name"].split("_")[1][1:]))
    print(json.dumps({"file": sys.argv[2], "fmt": sys.argv[3], "prog": "lfm", "kind": kind, "batch": b, "tps": o["tokens_per_s"]}))
EOF
    "$LLAMA/llama-bench" -m "$f" -t "$THREADS" -p 512 -n 128 -r 1 -o json >"$TMP/ll-$r.json" 2>/dev/null
    python3 - "$TMP/ll-$r.json" "$f" "$fmt" >>"$TMP/results.jsonl" <<'EOF'
import json, sys
for o in json.load(open(sys.argv[1])):
    kind = "prefill" if o["n_prompt"] > 0 else "decode"
    print(json.dumps({"file": sys.argv[2], "fmt": sys.argv[3], "prog": "llama.cpp", "kind": kind, "batch": 1, "tps": o["avg_ts"]}))
EOF
    if [ -n "$BATCHED" ]; then
      maxb=$(echo "$BATCHED" | tr ',' '\n' | sort -n | tail -1)
      "$LLAMA/llama-batched-bench" -m "$f" -t "$THREADS" -tb "$THREADS" -c $(( (maxb + 1) * 160 )) -b 2048 -ub 512 \
        -npp 2 -ntg 128 -npl "$BATCHED" --output-format jsonl >"$TMP/bb-$r.txt" 2>/dev/null || true
      python3 - "$TMP/bb-$r.txt" "$f" "$fmt" >>"$TMP/results.jsonl" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"): continue
    o = json.loads(line)
    if "pl" in o and "speed_tg" in o:
        print(json.dumps({"file": sys.argv[2], "fmt": sys.argv[3], "prog": "llama.cpp", "kind": "decode", "batch": o["pl"], "tps": o["speed_tg"]}))
EOF
    fi
  done
done

python3 - "$TMP/results.jsonl" "$JSON" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
best = {}
for r in rows:
    k = (r["file"], r["fmt"], r["kind"], r["batch"], r["prog"])
    best[k] = max(best.get(k, 0.0), r["tps"])
out = []
print(f"{'file':<28} {'fmt':<6} {'test':<12} {'lfm tok/s':>10} {'llama.cpp':>10} {'ratio':>6}")
for (f, fmt, kind, b, prog), v in sorted(best.items()):
    if prog != "lfm": continue
    ll = best.get((f, fmt, kind, b, "llama.cpp"))
    test = "pp512" if kind == "prefill" else f"tg128 b{b}"
    ratio = v / ll if ll else None
    print(f"{f[-28:]:<28} {fmt:<6} {test:<12} {v:>10.1f} {ll or float('nan'):>10.1f} {ratio if ratio else float('nan'):>6.2f}")
    out.append({"file": f, "fmt": fmt, "test": test, "lfm_tokens_per_s": v, "llama_cpp_tokens_per_s": ll, "ratio": ratio})
if sys.argv[2]:
    json.dump({"rows": out, "measurements": rows}, open(sys.argv[2], "w"), indent=1)
EOF
