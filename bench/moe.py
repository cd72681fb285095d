"""Benchmark, not a test: the MoE layer against computing every expert and
against a dense MLP of the same active FLOPs (issue item 6b).

Three one-layer models (hidden 1024, all-zero weights written without torch;
zero weights route ties to the first experts, which costs the same as any
routing of 8 of 64), compiled with --cpu native and run on one prompt:

- qwen3_moe, 64 experts of 512, top-8 (the MoE under test);
- the same with top-64: every expert computes every token;
- qwen3 with a dense SwiGLU MLP of 8 x 512 = 4096: the FLOPs of top-8.

The MLP block's time is the sum of its kernels in hybrid-run --profile
(router, grouping, expert kernels, weighted sum; or the dense projections).
Printed: top-8 / all-64 (ideal k/E = 0.125) and dense / top-8 (the MoE's
speed relative to a dense matmul doing the same useful work; target >= 0.8).

usage: python3 bench/moe.py [--prompt 512] [--threads N] [--build build]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
MAKE_CHECKPOINT = os.path.join(HERE, "..", "test", "Frontends", "HF", "Inputs",
                               "make_checkpoint.py")
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


def mlp_ms(args, folder, config):
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    hybridc = os.path.join(args.build, "bin", "hybridc")
    ir = os.path.join(folder, "model.mlir")
    subprocess.run([hybridc, os.path.join(folder, "config.json"), "--emit=hybrid", "-o", ir],
                   check=True)
    subprocess.run([sys.executable, MAKE_CHECKPOINT, ir, folder, "valid"], check=True)
    artifact = os.path.join(folder, "model.hyb")
    subprocess.run([hybridc, folder, "-o", artifact, "--cpu", "native",
                    "--max-seq-len", str(args.prompt + 1)], check=True)
    prompt = ",".join(str((7 * i) % 1000) for i in range(args.prompt))
    out = subprocess.run([os.path.join(args.build, "bin", "hybrid-run"), artifact,
                          "--prompt-ids", prompt, "--max-new-tokens", "1",
                          "--threads", str(args.threads), "--profile"],
                         check=True, capture_output=True, text=True).stdout
    total = 0.0
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 6 and parts[0].startswith("forward__model_layers_0_mlp"):
            total += float(parts[3])
    return total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    args = parser.parse_args()
    times = {}
    for label, config in MODELS.items():
        with tempfile.TemporaryDirectory() as folder:
            times[label] = mlp_ms(args, folder, config)
    print(f"{args.threads} threads, prompt {args.prompt} tokens, hidden 1024, f32")
    print("| MLP block | ms (prompt) |")
    print("|---|---|")
    for label, ms in times.items():
        print(f"| {label} | {ms:.1f} |")
    print(f"\ntop-8 / all-64: {times['top-8 of 64'] / times['all 64']:.3f} (ideal 0.125); "
          f"dense / top-8: {times['dense 4096'] / times['top-8 of 64']:.2f}x (target >= 0.8)")


if __name__ == "__main__":
    main()
