#!/usr/bin/env python3
"""Record llama-quantize's per-tensor types and bytes for lfm-quant's mix test.

Output: crates/lfm-quant/tests/fixtures/llama_quantize_mixes.json

    {case: {"f32_input": {tensor: [type, sha256]}, MIX: {tensor: [type, sha256]}, ...}, "_meta": {...}}

for the cases of crates/lfm-quant/tests/llama_quantize_mixes.rs (k256, untied, mha48) and the
mixes q8_0, q6_k, q5_k_m, q5_1, q5_0, q4_k_m, q4_0. Steps:

  1. the Rust test writes our f32 GGUF export of each case
     (LFM_WRITE_F32_GGUF_DIR=DIR cargo test -p lfm-quant --test llama_quantize_mixes);
  2. llama.cpp's llama-quantize turns each into every mix (no imatrix, default options);
  3. gguf-py's GGUFReader reads every output; the SHA-256 of each tensor's data is recorded.

The test then requires `lfm export`'s own q* files of the same checkpoints to have exactly these
types and hashes, and its f32 export the f32_input ones (the same input was used).

Run with llama.cpp built as described in scripts/make_quant_fixtures.py plus the llama-quantize
target (ninja -C /work/llama.cpp-build llama-quantize), and gguf-py installed:

    /work/venv-gguf/bin/python scripts/make_quant_mix_fixture.py --llama-bin /work/llama.cpp-build/bin
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from gguf import GGUFReader

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "crates/lfm-quant/tests/fixtures/llama_quantize_mixes.json"
CASES = ["k256", "untied", "mha48"]
MIXES = {"q8_0": "Q8_0", "q6_k": "Q6_K", "q5_k_m": "Q5_K_M", "q5_1": "Q5_1", "q5_0": "Q5_0",
         "q4_k_m": "Q4_K_M", "q4_0": "Q4_0"}
# ggml type ids -> lfm-quant's names (GgmlType::name)
TYPE_NAMES = {0: "f32", 1: "f16", 2: "q4_0", 6: "q5_0", 7: "q5_1", 8: "q8_0", 12: "q4_K", 13: "q5_K",
              14: "q6_K", 30: "bf16"}


def digest(path: Path) -> dict[str, list[str]]:
    r = GGUFReader(str(path))
    return {t.name: [TYPE_NAMES[int(t.tensor_type)], hashlib.sha256(t.data.tobytes()).hexdigest()]
            for t in r.tensors}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--llama-bin", type=Path, required=True, help="directory holding llama-quantize")
    ap.add_argument("--llama-desc", default="llama.cpp ggml-org/llama.cpp@0c1e57098 "
                    "(vendored by llama-cpp-python 0.3.36 sdist)")
    args = ap.parse_args()
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = dict(os.environ, LFM_WRITE_F32_GGUF_DIR=str(work))
        subprocess.run(["cargo", "test", "-q", "-p", "lfm-quant", "--test", "llama_quantize_mixes"],
                       cwd=REPO, env=env, check=True)
        for case in CASES:
            src = work / f"{case}-f32.gguf"
            out[case] = {"f32_input": digest(src)}
            for mix, ftype in MIXES.items():
                dst = work / f"{case}-{mix}.gguf"
                subprocess.run([str(args.llama_bin / "llama-quantize"), str(src), str(dst), ftype],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                out[case][mix] = digest(dst)
                kinds = sorted({v[0] for v in out[case][mix].values()})
                print(f"{case} {mix}: {len(out[case][mix])} tensors, types {kinds}")
    out["_meta"] = {"generator": "scripts/make_quant_mix_fixture.py", "llama_cpp": args.llama_desc,
                    "llama_quantize": "default options, no imatrix"}
    OUT.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
