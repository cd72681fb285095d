"""Benchmark, not a test: chunked vs token-by-token scans in prefill
(issue item 6a).

Builds two one-layer models with the recurrent mixers of the seed models at
their real head shapes: a Qwen3-Next Gated DeltaNet layer (16 k-heads, 32
v-heads, dk = dv = 128) and a Jamba Mamba-1 layer (d_inner 8192, d_state 16,
dt_rank 256), each with all-zero weights (standard library only: no torch;
zero weights do the same work). Each is compiled twice, with
--scan-chunk-size=0 (token by token) and with the default chunks, and run
on prompts of --lengths tokens with hybrid-run --profile. Prints, per
length, the scan kernel's time (delta_rule / scan), the whole prefill's
tokens/s, and the ratios chunked / token by token, measured in the same run.

usage: python3 bench/scans.py [--lengths 512,2048,8192] [--chunk 64]
           [--threads N] [--build build]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
MAKE_CHECKPOINT = os.path.join(HERE, "..", "test", "Frontends", "HF", "Inputs",
                               "make_checkpoint.py")

MODELS = {
    # One Gated DeltaNet layer at Qwen3-Next-80B's head shape (models.md 1.5).
    "qwen3_next GDN": ("__delta_rule", dict(
        model_type="qwen3_next", vocab_size=1000, hidden_size=2048, num_hidden_layers=1,
        layer_types=["linear_attention"], mlp_only_layers=[0], intermediate_size=512,
        num_attention_heads=16, num_key_value_heads=2, head_dim=256,
        linear_num_key_heads=16, linear_num_value_heads=32, linear_key_head_dim=128,
        linear_value_head_dim=128, linear_conv_kernel_dim=4, num_experts=4,
        num_experts_per_tok=2, moe_intermediate_size=64,
        shared_expert_intermediate_size=64, dtype="float32")),
    # One Mamba-1 layer at Jamba v0.1's shape (models.md 2.5).
    "jamba Mamba": ("__scan", dict(
        model_type="jamba", vocab_size=1000, hidden_size=4096, num_hidden_layers=1,
        num_attention_heads=32, num_key_value_heads=8, intermediate_size=512,
        num_experts=4, num_experts_per_tok=2, attn_layer_period=8, attn_layer_offset=4,
        expert_layer_period=2, expert_layer_offset=1, mamba_d_state=16,
        mamba_d_conv=4, mamba_expand=2, mamba_dt_rank=256, use_mamba_kernels=False,
        dtype="float32")),
}


def prefill(args, artifact, length):
    """(prefill tokens/s, ms in kernels whose names end in `suffix`)."""
    prompt = ",".join(str((7 * i) % 1000) for i in range(length))
    out = subprocess.run([os.path.join(args.build, "bin", "hybrid-run"), artifact,
                          "--prompt-ids", prompt, "--max-new-tokens", "1",
                          "--threads", str(args.threads), "--profile"],
                         check=True, capture_output=True, text=True).stdout
    rate = float(re.search(r"prefill: \d+ tokens, ([0-9.]+) tokens/s", out).group(1))
    kernels = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 6 and parts[0].startswith("forward__"):
            kernels[parts[0]] = float(parts[3])
    return rate, kernels


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lengths", default="512,2048,8192")
    parser.add_argument("--chunk", type=int, default=64)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    args = parser.parse_args()
    lengths = [int(n) for n in args.lengths.split(",")]
    hybridc = os.path.join(args.build, "bin", "hybridc")
    print(f"{args.threads} threads; the scan kernel's ms include one decode step "
          f"(token by token in both)")
    print("| layer | tokens | scan ms, token by token | chunked | speed-up "
          "| prefill tok/s, token by token | chunked | speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    for label, (suffix, config) in MODELS.items():
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "config.json"), "w") as f:
                json.dump(config, f)
            ir = os.path.join(folder, "model.mlir")
            subprocess.run([hybridc, os.path.join(folder, "config.json"),
                            "--emit=hybrid", "-o", ir], check=True)
            subprocess.run([sys.executable, MAKE_CHECKPOINT, ir, folder, "valid"],
                           check=True)
            artifacts = {}
            for name, chunk in (("stepwise", 0), ("chunked", args.chunk)):
                artifacts[name] = os.path.join(folder, name + ".hyb")
                subprocess.run([hybridc, folder, "-o", artifacts[name], "--cpu", "native",
                                "--max-seq-len", str(max(lengths) + 1),
                                "--scan-chunk-size", str(chunk)], check=True)
            for length in lengths:
                # Interleaved, so that both see the same machine state.
                rates, scans = {}, {}
                for name in ("stepwise", "chunked"):
                    rate, kernels = prefill(args, artifacts[name], length)
                    rates[name] = rate
                    scans[name] = sum(ms for k, ms in kernels.items() if k.endswith(suffix))
                print(f"| {label} | {length} | {scans['stepwise']:.1f} | {scans['chunked']:.1f} "
                      f"| {scans['stepwise'] / scans['chunked']:.2f}x "
                      f"| {rates['stepwise']:.0f} | {rates['chunked']:.0f} "
                      f"| {rates['chunked'] / rates['stepwise']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
