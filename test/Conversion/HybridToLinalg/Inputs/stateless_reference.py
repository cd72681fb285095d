"""Reference for the execution test of convert-hybrid-to-linalg.

`emit` writes an MLIR program that runs embed -> rms_norm (all three kinds)
-> mlp -> lm_head on deterministic pseudo-random weights, held as constants,
and prints the logits with printMemrefF32. `check` reads that print-out from
stdin and compares it with the same computation done here in double
precision, following models.md 0.1-0.2. Standard library only.
"""
import math
import random
import re
import sys

TOKENS, VOCAB, HIDDEN, INTER = [3, 0, 7, 5, 3], 11, 6, 5
EPS = 1e-6


def weights():
    rng = random.Random(1234)
    def mat(rows, cols, scale=0.5):
        return [[rng.uniform(-scale, scale) for _ in range(cols)] for _ in range(rows)]
    def vec(n, scale=0.5):
        return [rng.uniform(-scale, scale) for _ in range(n)]
    return {
        "embed": mat(VOCAB, HIDDEN, 1.0), "plain": vec(HIDDEN), "zero": vec(HIDDEN),
        "gated": vec(HIDDEN), "gate_proj": mat(INTER, HIDDEN), "up_proj": mat(INTER, HIDDEN),
        "down_proj": mat(HIDDEN, INTER), "head": mat(VOCAB, HIDDEN),
    }


def silu(x):
    return x / (1.0 + math.exp(-x))


def rms(row):
    inv = 1.0 / math.sqrt(sum(v * v for v in row) / len(row) + EPS)
    return [v * inv for v in row]


def linear(rows, w):
    return [[sum(x * wi for x, wi in zip(row, wrow)) for wrow in w] for row in rows]


def reference(w):
    h = [list(w["embed"][t]) for t in TOKENS]
    h = [[v * g for v, g in zip(rms(r), w["plain"])] for r in h]
    h = [[v * (1.0 + g) for v, g in zip(rms(r), w["zero"])] for r in h]
    gate = [[math.tanh(v) for v in r] for r in h]  # any gate input works
    h = [[v * g * silu(z) for v, g, z in zip(rms(r), w["gated"], zr)] for r, zr in zip(h, gate)]
    g, u = linear(h, w["gate_proj"]), linear(h, w["up_proj"])
    a = [[silu(x) * y for x, y in zip(gr, ur)] for gr, ur in zip(g, u)]
    h = linear(a, w["down_proj"])
    return linear(h, w["head"])


def dense(values, shape):
    """An f32 arith.constant holding `values` (a list or a list of rows)."""
    def fmt(row):
        return "[" + ", ".join("%.9e" % v for v in row) + "]"
    body = fmt(values) if len(shape) == 1 else "[" + ", ".join(fmt(r) for r in values) + "]"
    dims = "x".join(str(d) for d in shape)
    return f"arith.constant dense<{body}> : tensor<{dims}xf32>"


def emit():
    w = weights()
    T, V, H, I = len(TOKENS), VOCAB, HIDDEN, INTER
    act = f"tensor<?x{H}xf32>"
    norm = f"(tensor<?x{H}xf32>, tensor<{H}xf32>) -> {act}"
    lines = [
        "func.func private @printMemrefF32(memref<*xf32>)",
        "func.func @main() {",
        f"  %ids = arith.constant dense<{TOKENS}> : tensor<{T}xi64>",
        f"  %tokens = tensor.cast %ids : tensor<{T}xi64> to tensor<?xi64>",
        "  %embed = " + dense(w["embed"], [V, H]),
        "  %plain = " + dense(w["plain"], [H]),
        "  %zero = " + dense(w["zero"], [H]),
        "  %gated = " + dense(w["gated"], [H]),
        "  %gate_proj = " + dense(w["gate_proj"], [I, H]),
        "  %up_proj = " + dense(w["up_proj"], [I, H]),
        "  %down_proj = " + dense(w["down_proj"], [H, I]),
        "  %head = " + dense(w["head"], [V, H]),
        f"  %h0 = hybrid.embed %tokens, %embed : (tensor<?xi64>, tensor<{V}x{H}xf32>) -> {act}",
        f"  %h1 = hybrid.rms_norm plain %h0, %plain {{epsilon = 1.0e-06 : f64}} : {norm}",
        f"  %h2 = hybrid.rms_norm zero_centered %h1, %zero {{epsilon = 1.0e-06 : f64}} : {norm}",
        f"  %z = math.tanh %h2 : {act}",
        f"  %h3 = hybrid.rms_norm gated %h2, %gated gate %z {{epsilon = 1.0e-06 : f64}} : (tensor<?x{H}xf32>, tensor<{H}xf32>, {act}) -> {act}",
        f"  %h4 = hybrid.mlp %h3 gate_proj(%gate_proj) up_proj(%up_proj) down_proj(%down_proj) : ({act}, tensor<{I}x{H}xf32>, tensor<{I}x{H}xf32>, tensor<{H}x{I}xf32>) -> {act}",
        f"  %logits = hybrid.lm_head %h4, %head : ({act}, tensor<{V}x{H}xf32>) -> tensor<?x{V}xf32>",
        f"  %buffer = bufferization.to_buffer %logits : tensor<?x{V}xf32> to memref<?x{V}xf32>",
        f"  %unranked = memref.cast %buffer : memref<?x{V}xf32> to memref<*xf32>",
        "  call @printMemrefF32(%unranked) : (memref<*xf32>) -> ()",
        "  return",
        "}",
    ]
    print("\n".join(lines))


def check():
    text = sys.stdin.read()
    rows = re.findall(r"\[([-0-9.e+, ]+)\]", text.split("data =", 1)[-1])
    got = [[float(v) for v in r.split(",")] for r in rows if "," in r]
    want = reference(weights())
    if len(got) != len(want) or any(len(g) != len(w) for g, w in zip(got, want)):
        sys.exit("shape mismatch: got %d rows, want %d\n%s" % (len(got), len(want), text))
    scale = max(abs(v) for r in want for v in r)
    err = max(abs(g - w) for gr, wr in zip(got, want) for g, w in zip(gr, wr)) / scale
    print("max relative error %.3g over %d logits" % (err, sum(len(r) for r in want)))
    if err > 1e-5:
        sys.exit("FAIL: error above 1e-5")
    print("PASS")


if __name__ == "__main__":
    {"emit": emit, "check": check}[sys.argv[1]]()
