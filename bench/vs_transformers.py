"""Benchmark, not a test: HybridC against transformers eager on the same
random checkpoint, on this machine, in one script.

For each family (qwen3_next, jamba, deepseek_v3) it writes a random
checkpoint of a size given by --scale (default: ~100-300M parameters) with
save_pretrained, compiles it with hybridc, runs hybrid-run on a prompt of
--prompt tokens with --new greedy tokens, runs transformers eager (in the
checkpoint's dtype, CPU, the same thread count) on the same prompt, and
prints prefill and decode tokens/s and the ratio. --dtype bfloat16 writes
and runs the checkpoint in bf16, as the real ones are (hybridc --cpu native
then multiplies by AVX512-BF16's dot product where the CPU has it). Needs
torch and transformers (PyPI).

usage: python3 bench/vs_transformers.py [--families qwen3_next,jamba,deepseek_v3]
           [--prompt 512] [--new 128] [--threads 2] [--dtype float32|bfloat16]
           [--build build]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM

from configs import CONFIGS



def transformers_speed(model, prompt, new):
    ids = torch.tensor([prompt])
    with torch.no_grad():
        start = time.perf_counter()
        out = model(ids, use_cache=True)
        prefill = time.perf_counter() - start
        cache = out.past_key_values
        token = out.logits[:, -1:].argmax(-1)
        start = time.perf_counter()
        for _ in range(new - 1):
            out = model(token, past_key_values=cache, use_cache=True)
            cache = out.past_key_values
            token = out.logits[:, -1:].argmax(-1)
        decode = time.perf_counter() - start
    return len(prompt) / prefill, (new - 1) / decode


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--families", default="qwen3_next,jamba,deepseek_v3")
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--new", type=int, default=128)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                        help="the checkpoint's dtype, in which transformers runs too")
    parser.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "build"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for family in args.families.split(","):
        torch.manual_seed(0)
        config = AutoConfig.for_model(family, **CONFIGS[family])
        model = AutoModelForCausalLM.from_config(config, experts_implementation="eager").eval()
        model = model.to(getattr(torch, args.dtype))
        params = sum(p.numel() for p in model.parameters())
        prompt = torch.randint(0, config.vocab_size, (args.prompt,)).tolist()
        with tempfile.TemporaryDirectory() as folder:
            model.save_pretrained(folder)
            artifact = os.path.join(folder, "model.hyb")
            start = time.perf_counter()
            subprocess.run([os.path.join(args.build, "bin", "hybridc"), folder, "-o", artifact,
                            "--max-seq-len", str(args.prompt + args.new), "--cpu", "native"],
                           check=True)
            compile_seconds = time.perf_counter() - start
            run = subprocess.run([os.path.join(args.build, "bin", "hybrid-run"), artifact,
                                  "--prompt-ids", ",".join(map(str, prompt)),
                                  "--max-new-tokens", str(args.new), "--json",
                                  "--threads", str(args.threads)],
                                 check=True, capture_output=True, text=True)
            ours = json.loads(run.stdout)
        hf_prefill, hf_decode = transformers_speed(model, prompt, args.new)
        rows.append((family, params, compile_seconds, ours["prefill_tokens_per_second"],
                     hf_prefill, ours["decode_tokens_per_second"], hf_decode))
        print(rows[-1], file=sys.stderr)
    print("| model | params | compile s | prefill tok/s HybridC | transformers | ratio "
          "| decode tok/s HybridC | transformers | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for family, params, comp, p_ours, p_hf, d_ours, d_hf in rows:
        print(f"| {family} | {params / 1e6:.0f}M | {comp:.1f} | {p_ours:.1f} | {p_hf:.1f} | "
              f"{p_ours / p_hf:.2f}x | {d_ours:.1f} | {d_hf:.1f} | {d_ours / d_hf:.2f}x |")
    print(f"\nprompt {args.prompt} tokens, {args.new} new tokens, {args.threads} threads "
          f"for both, {args.dtype} checkpoints.")


if __name__ == "__main__":
    main()
