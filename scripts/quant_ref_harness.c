/*
 * quant_ref_harness.c -- tiny driver around ggml's reference quantizers.
 *
 * This file is our own code. It contains no ggml code: it only includes
 * ggml's headers and calls functions exported by ggml's static library
 * libggml-base.a (ggml is MIT-licensed). It is compiled and run by
 * scripts/make_quant_fixtures.py; see that script for the exact commands.
 *
 * Usage: quant_ref_harness IN.f32 NROWS NCOLS OUTDIR
 *
 * IN.f32 holds NROWS*NCOLS little-endian float32 values, row-major.
 * For each format F in {q8_0, q4_0, q5_0, q5_1, q4_k, q5_k, q6_k} it writes
 *   OUTDIR/F.bin        encoded rows (quantize_row_F_ref, one call per row)
 *   OUTDIR/F_deq.f32    dequantize_row_F of those bytes
 *   OUTDIR/F_chunk.bin  encoded rows via ggml_quantize_chunk(..., imatrix=NULL),
 *                       the path llama-quantize takes without an imatrix
 *                       (written only so the caller can check it matches F.bin)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"
#include "ggml-quants.h"

typedef void (*quant_fn)(const float *, void *, int64_t);
typedef void (*dequant_fn)(const void *, float *, int64_t);

static void q8_0_q(const float * x, void * y, int64_t k) { quantize_row_q8_0_ref(x, (block_q8_0 *) y, k); }
static void q4_0_q(const float * x, void * y, int64_t k) { quantize_row_q4_0_ref(x, (block_q4_0 *) y, k); }
static void q4_k_q(const float * x, void * y, int64_t k) { quantize_row_q4_K_ref(x, (block_q4_K *) y, k); }
static void q5_0_q(const float * x, void * y, int64_t k) { quantize_row_q5_0_ref(x, (block_q5_0 *) y, k); }
static void q5_1_q(const float * x, void * y, int64_t k) { quantize_row_q5_1_ref(x, (block_q5_1 *) y, k); }
static void q5_k_q(const float * x, void * y, int64_t k) { quantize_row_q5_K_ref(x, (block_q5_K *) y, k); }
static void q6_k_q(const float * x, void * y, int64_t k) { quantize_row_q6_K_ref(x, (block_q6_K *) y, k); }
static void q8_0_d(const void * x, float * y, int64_t k) { dequantize_row_q8_0((const block_q8_0 *) x, y, k); }
static void q4_0_d(const void * x, float * y, int64_t k) { dequantize_row_q4_0((const block_q4_0 *) x, y, k); }
static void q4_k_d(const void * x, float * y, int64_t k) { dequantize_row_q4_K((const block_q4_K *) x, y, k); }
static void q5_0_d(const void * x, float * y, int64_t k) { dequantize_row_q5_0((const block_q5_0 *) x, y, k); }
static void q5_1_d(const void * x, float * y, int64_t k) { dequantize_row_q5_1((const block_q5_1 *) x, y, k); }
static void q5_k_d(const void * x, float * y, int64_t k) { dequantize_row_q5_K((const block_q5_K *) x, y, k); }
static void q6_k_d(const void * x, float * y, int64_t k) { dequantize_row_q6_K((const block_q6_K *) x, y, k); }

static void write_file(const char * dir, const char * name, const void * data, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE * f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) { fprintf(stderr, "cannot write %s\n", path); exit(1); }
    fclose(f);
}

int main(int argc, char ** argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s IN.f32 NROWS NCOLS OUTDIR\n", argv[0]);
        return 2;
    }
    const int64_t nrows = atoll(argv[2]);
    const int64_t ncols = atoll(argv[3]);
    const char * outdir = argv[4];
    const size_t nvals = (size_t) (nrows * ncols);

    float * in = malloc(nvals * sizeof(float));
    FILE * f = fopen(argv[1], "rb");
    if (!f || fread(in, sizeof(float), nvals, f) != nvals) { fprintf(stderr, "cannot read %s\n", argv[1]); return 1; }
    fclose(f);

    struct { const char * name; enum ggml_type type; quant_fn q; dequant_fn d; } fmts[] = {
        { "q8_0", GGML_TYPE_Q8_0, q8_0_q, q8_0_d },
        { "q4_0", GGML_TYPE_Q4_0, q4_0_q, q4_0_d },
        { "q4_k", GGML_TYPE_Q4_K, q4_k_q, q4_k_d },
        { "q5_0", GGML_TYPE_Q5_0, q5_0_q, q5_0_d },
        { "q5_1", GGML_TYPE_Q5_1, q5_1_q, q5_1_d },
        { "q5_k", GGML_TYPE_Q5_K, q5_k_q, q5_k_d },
        { "q6_k", GGML_TYPE_Q6_K, q6_k_q, q6_k_d },
    };

    for (size_t t = 0; t < sizeof fmts / sizeof fmts[0]; t++) {
        const size_t row_bytes = ggml_row_size(fmts[t].type, ncols);
        unsigned char * q  = calloc(nrows, row_bytes);
        unsigned char * qc = calloc(nrows, row_bytes);
        float * deq = malloc(nvals * sizeof(float));
        for (int64_t r = 0; r < nrows; r++) {
            fmts[t].q(in + r * ncols, q + r * row_bytes, ncols);
            fmts[t].d(q + r * row_bytes, deq + r * ncols, ncols);
        }
        ggml_quantize_chunk(fmts[t].type, in, qc, 0, nrows, ncols, NULL);

        char name[64];
        snprintf(name, sizeof name, "%s.bin", fmts[t].name);
        write_file(outdir, name, q, nrows * row_bytes);
        snprintf(name, sizeof name, "%s_deq.f32", fmts[t].name);
        write_file(outdir, name, deq, nvals * sizeof(float));
        snprintf(name, sizeof name, "%s_chunk.bin", fmts[t].name);
        write_file(outdir, name, qc, nrows * row_bytes);
        printf("%s: %zu bytes per row\n", fmts[t].name, row_bytes);
        free(q); free(qc); free(deq);
    }
    free(in);
    return 0;
}
