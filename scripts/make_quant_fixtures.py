#!/usr/bin/env python3
"""Write ggml block-format reference vectors for lfm-quant's tests.

Output: crates/lfm-quant/tests/fixtures/quant_vectors.safetensors (about 400 KB)

    input       float32 [16, 512]   the test rows (see ROWS below; numpy seed 0)
    q8_0        uint8   [16, 544]   quantize_row_q8_0_ref, 34 bytes per 32 values
    q8_0_deq    float32 [16, 512]   dequantize_row_q8_0 of those bytes
    q4_0        uint8   [16, 288]   quantize_row_q4_0_ref, 18 bytes per 32 values
    q4_0_deq    float32 [16, 512]   dequantize_row_q4_0
    q4_k        uint8   [16, 288]   quantize_row_q4_K_ref, 144 bytes per 256 values
    q4_k_deq    float32 [16, 512]   dequantize_row_q4_K
    q5_0        uint8   [16, 352]   quantize_row_q5_0_ref, 22 bytes per 32 values (+ q5_0_deq)
    q5_1        uint8   [16, 384]   quantize_row_q5_1_ref, 24 bytes per 32 values (+ q5_1_deq)
    q5_k        uint8   [16, 352]   quantize_row_q5_K_ref, 176 bytes per 256 values (+ q5_k_deq)
    q6_k        uint8   [16, 420]   quantize_row_q6_K_ref, 210 bytes per 256 values (+ q6_k_deq)
    f16         uint8   [16, 1024]  input.astype(numpy.float16), little-endian
    bf16        uint8   [16, 1024]  gguf.quants.quantize(input, BF16), little-endian

The quantized bytes and dequantized values come from ggml's own C code: the
small harness scripts/quant_ref_harness.c (ours; it only calls ggml) is
compiled and linked against libggml-base.a of a llama.cpp CPU build, then run
on the rows. llama.cpp builds libggml-base without -march=native, so the
reference is plain IEEE-754 single-precision arithmetic without FMA
contraction. The script also checks:

  * ggml_quantize_chunk(type, ..., imatrix=NULL), the path llama-quantize
    takes, gives the same bytes as the *_ref functions;
  * gguf-py's numpy gguf.quants.quantize gives identical bytes for Q8_0 and
    Q4_0 (it has no K-quant quantizers);
  * gguf-py's gguf.quants.dequantize of the C bytes equals the C
    dequantization bit for bit, for every format.
Any mismatch is reported and makes the script exit non-zero (the C output
is the reference; --allow-mismatch writes the file anyway).

Set-up it was run with (Debian 12, gcc 12.2.0, Python 3.11.7):

    python3 -m venv /work/venv-gguf
    /work/venv-gguf/bin/pip install gguf==0.19.0 numpy==2.4.6 safetensors==0.8.0 \\
        cmake==4.4.5 ninja==1.13.2
    # llama.cpp sources: the llama-cpp-python 0.3.36 sdist vendors
    # llama.cpp at ggml-org/llama.cpp@0c1e57098 (ggml 0.25.3)
    /work/venv-gguf/bin/pip download llama-cpp-python==0.3.36 --no-deps -d /work/dl
    tar xzf /work/dl/llama_cpp_python-0.3.36.tar.gz -C /tmp
    cp -a /tmp/llama_cpp_python-0.3.36/vendor/llama.cpp/. /work/llama.cpp-src/
    rm -f /work/llama.cpp-src/.git        # dangling submodule pointer
    PATH=/work/venv-gguf/bin:$PATH cmake -S /work/llama.cpp-src -B /work/llama.cpp-build \\
        -G Ninja -DLLAMA_CURL=OFF -DGGML_NATIVE=ON -DCMAKE_BUILD_TYPE=Release \\
        -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF
    PATH=/work/venv-gguf/bin:$PATH nice -n 10 ninja -C /work/llama.cpp-build -j2 ggml-base

    /work/venv-gguf/bin/python scripts/make_quant_fixtures.py \\
        --llama-src /work/llama.cpp-src --llama-build /work/llama.cpp-build

Run from the repository root (or pass --out).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import gguf
from gguf import GGMLQuantizationType as QT
from safetensors.numpy import save_file

NCOLS = 512
REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "crates/lfm-quant/tests/fixtures/quant_vectors.safetensors"
HARNESS = REPO / "scripts/quant_ref_harness.c"
FORMATS = {"q8_0": (QT.Q8_0, 32, 34), "q4_0": (QT.Q4_0, 32, 18), "q4_k": (QT.Q4_K, 256, 144),
           "q5_0": (QT.Q5_0, 32, 22), "q5_1": (QT.Q5_1, 32, 24), "q5_k": (QT.Q5_K, 256, 176),
           "q6_k": (QT.Q6_K, 256, 210)}


def make_rows() -> tuple[np.ndarray, list[str]]:
    """The test rows, float32 [16, 512], and a one-line description of each.

    Every 32-value block holds at least one value of magnitude >= 1e-20: a block
    made only of float32 subnormals makes ggml compute 1/d = inf and then
    convert inf/NaN to an integer, which is undefined behaviour in C.
    """
    rng = np.random.default_rng(0)
    rows: list[np.ndarray] = []
    desc: list[str] = []

    def add(row, text):
        row = np.asarray(row, dtype=np.float32).reshape(NCOLS)
        assert np.all(np.isfinite(row))
        rows.append(row)
        desc.append(text)

    normal = lambda: rng.standard_normal(NCOLS).astype(np.float32)  # noqa: E731

    add(normal(), "standard normal")
    add(normal() * np.float32(1e-3), "standard normal * 1e-3 (Q8_0/Q4_0 scales are fp16 subnormals)")
    add(normal() * np.float32(1e3), "standard normal * 1e3")
    add(rng.uniform(-1.0, 1.0, NCOLS), "uniform [-1, 1)")

    r = normal()
    r[77] = 1e5
    add(r, "standard normal with one outlier +1e5 at index 77 (f16 of it is +inf)")

    r = normal().reshape(16, 32)
    for b in range(16):
        i = (5 * b + 3) % 32
        peak = 1.5 * np.abs(r[b]).max()
        r[b, i] = -peak if b % 2 == 0 else peak
    add(r, "normal; in even 32-blocks the largest magnitude is negative, in odd blocks positive")

    add(np.zeros(NCOLS), "all +0.0")

    r = np.empty(NCOLS)
    r[:256] = 0.37
    r[256:] = -1.25
    add(r, "constant 0.37 (first 256), constant -1.25 (last 256)")

    r = normal().reshape(16, 32) * 0.5
    for b in range(16):
        a = float(1.0 + b / 8)
        i, j = (3 * b) % 32, (3 * b + 7) % 32
        r[b, i], r[b, j] = (a, -a) if b % 2 == 0 else (-a, a)
        if b % 4 == 3:
            r[b, (i + 11) % 32] = -a  # a third tie of the same magnitude
        r[b, (i + 20) % 32] = r[b, (i + 21) % 32]  # an ordinary tie too
    add(r, "ties in largest magnitude: even blocks +a first then -a, odd blocks -a first then +a")

    r = normal().reshape(16, 32)
    r[0:4] = 0.0
    r[0:4, ::2] = -0.0
    r[4:8, 0::3] = -0.0
    r[8:10] = -0.0
    r[10:16, 1::4] = 0.0
    add(r, "signed zeros: blocks of mixed +-0.0, all -0.0, and normal values with -0.0/+0.0 entries")

    r = normal().reshape(16, 32)
    r[:, ::2] = rng.choice([-1e-40, 1e-40, -3e-42, 1e-45], size=(16, 16))
    r[12] = rng.standard_normal(32) * 1e-20
    r[13] = rng.choice([-1e-40, 1e-40], size=32)
    r[13, 5] = 1e-20
    add(r, "tiny values: subnormals (1e-40, 3e-42, 1e-45) mixed with normal values; blocks of ~1e-20 (fp16 scale flushes to 0)")

    r = normal()
    r[:256] = 0.0
    add(r, "first half (one Q4_K super-block) all zero, second half standard normal")

    add(normal() * np.float32(0.02), "LLM-weight-like: normal * 0.02")

    # Exact rounding boundaries. Blocks whose largest magnitude is 127 (Q8_0 id = 1)
    # or -8 (Q4_0 d = 1, id = 1) so that x*id is exactly k + 0.5.
    r = np.zeros((16, 32))
    halves = np.arange(-7.5, 8.0, 1.0)  # 16 values: -7.5 .. 7.5
    for b in range(16):
        if b % 4 == 0:
            r[b, :16] = halves
            r[b, 16:] = halves[::-1] * 0.5
            r[b, 7] = -8.0
        elif b % 4 == 1:
            r[b, :16] = halves
            r[b, 16:] = -halves
            r[b, 3] = 8.0  # positive max: Q4_0 d = -1
        elif b % 4 == 2:
            r[b] = rng.integers(-126, 126, 32) + 0.5
            r[b, 9] = 127.0
        else:
            r[b] = np.nextafter(np.float32(0.5), np.float32(0)) * rng.choice([-1, 1], 32)
            r[b, 0] = -8.0
            r[b, 1:5] = [0.5, -0.5, 1.5, -1.5]
    add(r, "exact rounding boundaries: x*id = k+0.5 for Q8_0 and Q4_0, and 0.49999997")

    r = np.empty(NCOLS)
    r[:256] = rng.uniform(0.1, 2.0, 256)
    r[256:] = -rng.uniform(0.1, 2.0, 256)
    add(r, "all positive (first 256), all negative (last 256)")

    r = normal().reshape(16, 32)
    for b in range(16):
        r[b] *= 10.0 ** ((b % 8) - 4)
    add(r, "magnitude spread: 32-block b scaled by 10^((b mod 8) - 4)")

    return np.stack(rows).astype(np.float32), desc


def build_harness(llama_src: Path, llama_build: Path, work: Path) -> Path:
    lib = llama_build / "ggml/src/libggml-base.a"
    if not lib.exists():
        sys.exit(f"{lib} not found: build the ggml-base target first")
    exe = work / "quant_ref_harness"
    cmd = ["gcc", "-O2", "-std=c11", "-Wall", "-Wextra",
           f"-I{llama_src / 'ggml/include'}", f"-I{llama_src / 'ggml/src'}",
           str(HARNESS), str(lib), "-o", str(exe), "-lm", "-lstdc++", "-fopenmp", "-lpthread"]
    print("+", " ".join(cmd))
    subprocess.run(cmd, check=True)
    return exe


def _classify_zero_block_sign(x, q, py_q, blk, size):
    """Split differing blocks into the known Q4_0 signed-zero case and the rest."""
    nrows = x.shape[0]
    xb = x.reshape(nrows, -1, blk)
    qb, pb = q.reshape(nrows, -1, size), py_q.reshape(nrows, -1, size)
    known, other = [], []
    for r, b in sorted({(int(r), int(b)) for r, b in np.argwhere((qb != pb).any(axis=-1))}):
        if (not np.any(xb[r, b]) and np.array_equal(qb[r, b, 2:], pb[r, b, 2:])
                and qb[r, b, :2].tolist() == [0x00, 0x80] and pb[r, b, :2].tolist() == [0, 0]):
            known.append((r, b))
        else:
            other.append((r, b))
    return known, other


def bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--llama-src", type=Path, required=True)
    ap.add_argument("--llama-build", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--llama-desc", default="llama.cpp ggml-org/llama.cpp@0c1e57098 "
                    "(vendored by llama-cpp-python 0.3.36 sdist), ggml 0.25.3")
    ap.add_argument("--allow-mismatch", action="store_true")
    args = ap.parse_args()

    x, desc = make_rows()
    nrows = x.shape[0]
    tensors: dict[str, np.ndarray] = {"input": x}
    problems: list[str] = []
    notes: list[str] = []

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        exe = build_harness(args.llama_src, args.llama_build, work)
        x.astype("<f4").tofile(work / "in.f32")
        subprocess.run([str(exe), str(work / "in.f32"), str(nrows), str(NCOLS), str(work)], check=True)

        for name, (qt, blk, size) in FORMATS.items():
            row_bytes = NCOLS // blk * size
            q = np.fromfile(work / f"{name}.bin", dtype=np.uint8).reshape(nrows, row_bytes)
            qc = np.fromfile(work / f"{name}_chunk.bin", dtype=np.uint8).reshape(nrows, row_bytes)
            deq = np.fromfile(work / f"{name}_deq.f32", dtype="<f4").reshape(nrows, NCOLS)
            tensors[name] = q
            tensors[f"{name}_deq"] = deq.astype(np.float32)

            if not np.array_equal(q, qc):
                problems.append(f"{name}: ggml_quantize_chunk differs from quantize_row_{name}_ref")

            with np.errstate(all="ignore"):
                py_deq = gguf.quants.dequantize(q, qt).reshape(nrows, NCOLS).astype(np.float32)
            if not bits_equal(py_deq, deq):
                bad = np.argwhere(py_deq.view(np.uint32) != deq.view(np.uint32))
                problems.append(f"{name}: gguf.quants.dequantize differs from C at {len(bad)} values, "
                                f"first (row, col) {bad[:5].tolist()}")

            if qt in (QT.Q8_0, QT.Q4_0):
                with np.errstate(all="ignore"):
                    py_q = gguf.quants.quantize(x, qt)
                if not np.array_equal(py_q, q):
                    known, other = _classify_zero_block_sign(x, q, py_q, blk, size)
                    if known:
                        notes.append(f"{name}: gguf.quants.quantize differs from C only in the fp16 scale of "
                                     f"{len(known)} all-zero blocks (row, block) {known}: ggml writes d = -0.0 "
                                     "(bytes 00 80) because its running max starts at +0.0 and d = max/-8; "
                                     "gguf-py takes the block's first element (-0.0) as max, so d = +0.0")
                    if other:
                        problems.append(f"{name}: gguf.quants.quantize bytes differ from C in (row, block) {other}")

    with np.errstate(over="ignore"):  # row 4's 1e5 becomes +inf in f16, on purpose
        tensors["f16"] = np.ascontiguousarray(x.astype("<f2")).view(np.uint8).reshape(nrows, 2 * NCOLS)
    bf16 = gguf.quants.quantize(x, QT.BF16)
    tensors["bf16"] = np.ascontiguousarray(bf16).view(np.uint8).reshape(nrows, 2 * NCOLS)

    for n in notes:
        print("KNOWN DIFFERENCE:", n)
    for p in problems:
        print("MISMATCH:", p)
    if problems and not args.allow_mismatch:
        print("not writing the fixture (pass --allow-mismatch to write the C reference anyway)")
        return 1

    meta = {
        "generator": "scripts/make_quant_fixtures.py + scripts/quant_ref_harness.c",
        "reference": "ggml C: quantize_row_{q8_0,q4_0,q5_0,q5_1,q4_K,q5_K,q6_K}_ref and dequantize_row_* from libggml-base.a",
        "llama_cpp": args.llama_desc,
        "gguf": gguf.__version__ if hasattr(gguf, "__version__") else _dist_version("gguf"),
        "numpy": np.__version__,
        "safetensors": _dist_version("safetensors"),
        "python": platform.python_version(),
        "rows": desc,
        "cross_checks": problems + notes or ["all passed"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # one metadata key: safetensors orders several keys arbitrarily, which would
    # make the file bytes differ from run to run
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(args.out),
              metadata={"info": json.dumps(meta, indent=1)})
    args.out.chmod(0o644)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    for k, v in tensors.items():
        print(f"  {k:10s} {str(v.dtype):8s} {list(v.shape)}")
    for i, d in enumerate(desc):
        print(f"  row {i:2d}: {d}")
    return 0


def _dist_version(name: str) -> str:
    from importlib.metadata import version
    return version(name)


if __name__ == "__main__":
    sys.exit(main())
