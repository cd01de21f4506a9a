#!/usr/bin/env python3
"""Loads a checkpoint directory written by lfm-rs with transformers and compares its logits
on a fixture's `input_ids` with the fixture's reference logits.

    python scripts/check_hf_roundtrip.py SAVED_DIR FIXTURE_DIR
"""
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

saved, fixture = sys.argv[1], sys.argv[2]
ref = load_file(f"{fixture}/reference.safetensors")
model = AutoModelForCausalLM.from_pretrained(saved, dtype=torch.float32).eval()
with torch.no_grad():
    logits = model(ref["input_ids"]).logits
diff = (logits - ref["logits"]).abs().max().item()
print(f"transformers on lfm-rs output: logits max-abs-diff vs fixture reference {diff:.3e}")
sys.exit(0 if diff <= 1e-4 else 1)
