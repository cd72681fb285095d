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

usage: python3 bench/scans.py [--lengths 512,2048,8192] [--chunk 16]
           [--threads N] [--build build]
"""
import argparse
import os
import tempfile

from zero_models import (DEFAULT_BUILD, compile_artifact, hybrid_run, kernel_times, rates,
                         zero_checkpoint)

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


def prefill(args, artifact, length, suffix):
    """(prefill tokens/s, ms in the kernels whose names end in `suffix`, or
    in `suffix` + "_prompt": the CPU's prompt form of a scan, when it has a
    kernel of its own)."""
    prompt = [(7 * i) % 1000 for i in range(length)]
    out = hybrid_run(args.build, artifact, prompt, 1, args.threads, "--profile")
    scan = sum(ms for name, (_, _, ms) in kernel_times(out).items()
               if name.endswith(suffix) or name.endswith(suffix + "_prompt"))
    return rates(out)[0], scan


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lengths", default="512,2048,8192")
    parser.add_argument("--chunk", type=int, default=16)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--build", default=DEFAULT_BUILD)
    args = parser.parse_args()
    lengths = [int(n) for n in args.lengths.split(",")]
    print(f"{args.threads} threads; the scan kernel's ms include one decode step "
          f"(token by token in both)")
    print("| layer | tokens | scan ms, token by token | chunked | speed-up "
          "| prefill tok/s, token by token | chunked | speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    for label, (suffix, config) in MODELS.items():
        with tempfile.TemporaryDirectory() as folder:
            zero_checkpoint(args.build, folder, config)
            artifacts = {name: compile_artifact(args.build, folder, max(lengths) + 1,
                                                "--scan-chunk-size", str(chunk),
                                                name=name + ".hyb")
                         for name, chunk in (("stepwise", 0), ("chunked", args.chunk))}
            for length in lengths:
                # Interleaved, so that both see the same machine state.
                rate, scan = {}, {}
                for name in ("stepwise", "chunked"):
                    rate[name], scan[name] = prefill(args, artifacts[name], length, suffix)
                print(f"| {label} | {length} | {scan['stepwise']:.1f} | {scan['chunked']:.1f} "
                      f"| {scan['stepwise'] / scan['chunked']:.2f}x "
                      f"| {rate['stepwise']:.0f} | {rate['chunked']:.0f} "
                      f"| {rate['chunked'] / rate['stepwise']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
