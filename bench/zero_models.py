"""What the benchmarks in this folder share: a checkpoint of a config with
all-zero weights (written by the test helper make_checkpoint.py, standard
library only: no torch), its artifact (gzipped to carry to a GPU machine),
a hybrid-run call, the parsing of hybrid-run's output, and the GPU
benchmarks' timing with torch. Zero weights do the work real ones do: no kernel
branches on values (MoE routing then ties and picks the first experts)."""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BUILD = os.path.join(HERE, "..", "build")
MAKE_CHECKPOINT = os.path.join(HERE, "..", "test", "Frontends", "HF", "Inputs",
                               "make_checkpoint.py")


def tool(build, name):
    return os.path.join(build, "bin", name)


def zero_checkpoint(build, folder, config):
    """Writes config.json and an all-zero model.safetensors into `folder`;
    returns the path of the model's layer-level IR (hybridc --emit=hybrid)."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    ir = os.path.join(folder, "model.mlir")
    subprocess.run([tool(build, "hybridc"), os.path.join(folder, "config.json"),
                    "--emit=hybrid", "-o", ir], check=True)
    subprocess.run([sys.executable, MAKE_CHECKPOINT, ir, folder, "valid"], check=True)
    return ir


def families_and_prompts(parser, args, configs):
    """A CPU benchmark's --families (names in `configs`) and --prompts (token
    counts), checked: parser.error names the bad value."""
    families = args.families.split(",")
    unknown = [f for f in families if f not in configs]
    if unknown:
        parser.error(f"--families: {', '.join(unknown)}: not one of {', '.join(configs)}")
    try:
        prompts = [int(p) for p in args.prompts.split(",")]
    except ValueError:
        prompts = []
    if not prompts or min(prompts) < 1:
        parser.error(f"--prompts: {args.prompts}: expected token counts, e.g. 512,4000")
    return families, prompts


def compile_artifact(build, folder, max_seq_len, *flags, name="model.hyb"):
    """hybridc FOLDER --cpu native: the artifact's path."""
    artifact = os.path.join(folder, name)
    subprocess.run([tool(build, "hybridc"), folder, "-o", artifact, "--cpu", "native",
                    "--max-seq-len", str(max_seq_len), *flags], check=True)
    return artifact


def pack(artifact, packed):
    """Gzips `artifact` into `packed`: a zero-weight artifact shrinks to its
    code (MBs), small enough to carry to a GPU machine."""
    with open(artifact, "rb") as raw, gzip.open(packed, "wb", compresslevel=1) as f:
        shutil.copyfileobj(raw, f, 1 << 24)


def unpack(packed, artifact):
    with gzip.open(packed, "rb") as f, open(artifact, "wb") as raw:
        shutil.copyfileobj(f, raw, 1 << 24)


def cuda_ms(torch, fn, reps):
    """Mean time of fn() over `reps` calls after two warm-ups (CUDA events)."""
    for _ in range(2):
        fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps


def matmul_tflops(torch, dtype, reps, tf32=False):
    """TFLOP/s of an 8192^3 product on random data: a tensor-core roofline
    (`torch` passed in: the CPU benchmarks do not need it)."""
    torch.backends.cuda.matmul.allow_tf32 = tf32
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=dtype)
    b = torch.randn(n, n, device="cuda", dtype=dtype)
    return 2 * n ** 3 / cuda_ms(torch, lambda: a @ b, reps) / 1e9


def hybrid_run(build, artifact, prompt, new, threads, *flags):
    """hybrid-run's standard output for the prompt (a list of ids)."""
    return subprocess.run([tool(build, "hybrid-run"), artifact, "--prompt-ids",
                           ",".join(map(str, prompt)), "--max-new-tokens", str(new),
                           "--threads", str(threads), *flags],
                          check=True, capture_output=True, text=True).stdout


def rates(out):
    """(prefill, decode) tokens/s from hybrid-run's text output."""
    # (hybrid-run --sequences N prints "N sequences x T tokens".)
    prefill = re.search(r"prefill: (?:\d+ sequences x )?\d+ tokens, ([0-9.]+) tokens/s", out)
    decode = re.search(r"decode: (?:\d+ sequences x )?\d+ tokens, ([0-9.]+) tokens/s", out)
    return float(prefill.group(1)), float(decode.group(1))


def kernel_times(out):
    """{kernel: (calls, workgroups, total ms)} from hybrid-run --profile."""
    kernels = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 6 and parts[0].startswith("forward_"):
            kernels[parts[0]] = (int(parts[1]), int(parts[2]), float(parts[3]))
    return kernels
