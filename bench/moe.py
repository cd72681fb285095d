"""Benchmark, not a test: the MoE layer against computing every expert and
against a dense MLP of the same active FLOPs (issue item 6b).

Three one-layer models (hidden 1024, all-zero weights written without torch;
zero weights route ties to the first experts, which costs the same as any
routing of 8 of 64), compiled with --cpu native and run on one prompt:

- qwen3_moe, 64 experts of 512, top-8 (the MoE under test);
- the same with top-64: every expert computes every token;
- qwen3 with a dense SwiGLU MLP of 8 x 512 = 4096: the FLOPs of top-8;
- top-8 of 64 again, compiled with --fuse-moe-routing=false: the MoE block
  in its per-token reference form (each chosen expert run for each token
  alone), what hybrid-fuse-moe-routing replaces.

The MLP block's time is the sum of its kernels in hybrid-run --profile
(router, grouping, expert kernels, weighted sum; or the dense projections).
Printed: top-8 / all-64 (ideal k/E = 0.125), dense / top-8 (the MoE's
speed relative to a dense matmul doing the same useful work; target >= 0.8)
and reference / fused (what the routing pass gains).

usage: python3 bench/moe.py [--prompt 512] [--threads N] [--build build]
"""
import argparse
import os
import tempfile

from zero_models import DEFAULT_BUILD, compile_artifact, hybrid_run, kernel_times, zero_checkpoint

BASE = dict(vocab_size=1000, hidden_size=1024, num_hidden_layers=1, num_attention_heads=8,
            num_key_value_heads=2, head_dim=128, dtype="float32")
MODELS = {
    "top-8 of 64": dict(BASE, model_type="qwen3_moe", num_experts=64, num_experts_per_tok=8,
                        moe_intermediate_size=512, intermediate_size=4096,
                        norm_topk_prob=True),
    "all 64": dict(BASE, model_type="qwen3_moe", num_experts=64, num_experts_per_tok=64,
                   moe_intermediate_size=512, intermediate_size=4096, norm_topk_prob=True),
    "dense 4096": dict(BASE, model_type="qwen3", intermediate_size=4096),
}
REFERENCE = "top-8 of 64, --fuse-moe-routing=false"


def mlp_ms(args, folder, config, *flags):
    """Milliseconds in layer 0's MLP block (every kernel of model.layers.0.mlp)."""
    zero_checkpoint(args.build, folder, config)
    artifact = compile_artifact(args.build, folder, args.prompt + 1, *flags)
    prompt = [(7 * i) % 1000 for i in range(args.prompt)]
    out = hybrid_run(args.build, artifact, prompt, 1, args.threads, "--profile")
    return sum(ms for name, (_, _, ms) in kernel_times(out).items()
               if name.startswith("forward__model_layers_0_mlp"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--build", default=DEFAULT_BUILD)
    args = parser.parse_args()
    times = {}
    for label, config in MODELS.items():
        with tempfile.TemporaryDirectory() as folder:
            times[label] = mlp_ms(args, folder, config)
    with tempfile.TemporaryDirectory() as folder:
        times[REFERENCE] = mlp_ms(args, folder, MODELS["top-8 of 64"],
                                  "--fuse-moe-routing=false")
    print(f"{args.threads} threads, prompt {args.prompt} tokens, hidden 1024, f32")
    print("| MLP block | ms (prompt) |")
    print("|---|---|")
    for label, ms in times.items():
        print(f"| {label} | {ms:.1f} |")
    print(f"\ntop-8 / all-64: {times['top-8 of 64'] / times['all 64']:.3f} (ideal 0.125); "
          f"dense / top-8: {times['dense 4096'] / times['top-8 of 64']:.2f}x (target >= 0.8); "
          f"reference / fused routing: {times[REFERENCE] / times['top-8 of 64']:.2f}x")


if __name__ == "__main__":
    main()
