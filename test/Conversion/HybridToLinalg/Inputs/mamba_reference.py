"""Reference for the execution test of hybrid.mamba's lowering.

`emit [D_INNER D_STATE FIRST]` writes a program running one Jamba Mamba-1
mixer (hidden 7, d_inner 10, d_state 3, dt_rank 2, conv kernel 4 with bias,
dt/B/C norms; models.md 2.5) three times on one conv window and ssm state:
5 tokens (FIRST), 2 continuing, 1 more. `check` with the same arguments
runs the tokens through transformers' slow path in float64 and compares the
print-outs. Standard library only.
"""
import math
import random
import re
import sys

H, D, N, R, K, EPS = 7, 10, 3, 2, 4, 1e-6
CALLS = (5, 2, 1)


def weights():
    rng = random.Random(3)
    mat = lambda r, c, s=0.7: [[rng.uniform(-s, s) for _ in range(c)] for _ in range(r)]
    vec = lambda n, lo=-0.5, hi=0.5: [rng.uniform(lo, hi) for _ in range(n)]
    return dict(x=mat(sum(CALLS), H, 1.0), in_proj=mat(2 * D, H),
                conv=[[[rng.uniform(-0.6, 0.6) for _ in range(K)]] for _ in range(D)],
                conv_bias=vec(D), x_proj=mat(R + 2 * N, D), dt_proj=mat(D, R),
                dt_bias=vec(D, -1.0, 0.5),
                a_log=[[math.log(rng.uniform(0.5, 4.0)) for _ in range(N)] for _ in range(D)],
                d=vec(D, 0.5, 1.5), out=mat(H, D), dt_norm=vec(R, 0.6, 1.4),
                b_norm=vec(N, 0.6, 1.4), c_norm=vec(N, 0.6, 1.4))


def linear(row, w):
    return [sum(a * b for a, b in zip(row, wr)) for wr in w]


def silu(v):
    return v / (1.0 + math.exp(-v))


def rms(v, w):
    inv = 1.0 / math.sqrt(sum(e * e for e in v) / len(v) + EPS)
    return [e * inv * g for e, g in zip(v, w)]


def reference(w):
    window = [[0.0] * (K - 1) for _ in range(D)]
    h = [[0.0] * N for _ in range(D)]
    outputs = []
    for x in w["x"]:
        xz = linear(x, w["in_proj"])
        xs, z = xz[:D], xz[D:]
        conv = []
        for c in range(D):
            taps = window[c] + [xs[c]]
            conv.append(silu(sum(a * b for a, b in zip(w["conv"][c][0], taps)) + w["conv_bias"][c]))
            window[c] = taps[1:]
        p = linear(conv, w["x_proj"])
        dt_in, B, C = rms(p[:R], w["dt_norm"]), rms(p[R:R + N], w["b_norm"]), rms(p[R + N:], w["c_norm"])
        pre = [v + bb for v, bb in zip(linear(dt_in, w["dt_proj"]), w["dt_bias"])]
        dt = [v if v > 20 else math.log1p(math.exp(v)) for v in pre]
        y = []
        for c in range(D):
            for n in range(N):
                a = -math.exp(w["a_log"][c][n])
                h[c][n] = math.exp(dt[c] * a) * h[c][n] + dt[c] * B[n] * conv[c]
            yc = sum(h[c][n] * C[n] for n in range(N)) + w["d"][c] * conv[c]
            y.append(yc * silu(z[c]))
        outputs.append(linear(y, w["out"]))
    return outputs


def dense(rows):
    if not isinstance(rows[0], list):
        return "[" + ", ".join("%.9e" % v for v in rows) + "]"
    return "[" + ", ".join(dense(r) for r in rows) + "]"


def emit():
    w = weights()
    act = f"tensor<?x{H}xf32>"
    conv_t, ssm_t = f"!hybrid.conv_state<{D}x{K-1}xf32>", f"!hybrid.recurrent_state<{D}x{N}xf32>"
    conv_m, ssm_m = f"memref<{D}x{K-1}xf32>", f"memref<{D}x{N}xf32>"
    t = dict(in_proj=f"tensor<{2*D}x{H}xf32>", conv=f"tensor<{D}x1x{K}xf32>", d=f"tensor<{D}xf32>",
             x_proj=f"tensor<{R+2*N}x{D}xf32>", dt_proj=f"tensor<{D}x{R}xf32>",
             a_log=f"tensor<{D}x{N}xf32>", out=f"tensor<{H}x{D}xf32>", r=f"tensor<{R}xf32>",
             n=f"tensor<{N}xf32>")
    def call(name, rows):
        n = len(rows)
        return f"""  %{name}_x = arith.constant dense<{dense(rows)}> : tensor<{n}x{H}xf32>
  %{name}_xd = tensor.cast %{name}_x : tensor<{n}x{H}xf32> to {act}
  %{name}_o = call @layer(%{name}_xd, %conv, %ssm) : ({act}, {conv_t}, {ssm_t}) -> {act}
  %{name}_b = bufferization.to_buffer %{name}_o : {act} to memref<?x{H}xf32>
  %{name}_u = memref.cast %{name}_b : memref<?x{H}xf32> to memref<*xf32>
  call @printMemrefF32(%{name}_u) : (memref<*xf32>) -> ()"""
    print(f"""func.func private @printMemrefF32(memref<*xf32>)
func.func @layer(%x: {act}, %conv: {conv_t}, %ssm: {ssm_t}) -> {act} {{
  %in = arith.constant dense<{dense(w["in_proj"])}> : {t["in_proj"]}
  %c = arith.constant dense<{dense(w["conv"])}> : {t["conv"]}
  %cb = arith.constant dense<{dense(w["conv_bias"])}> : {t["d"]}
  %xp = arith.constant dense<{dense(w["x_proj"])}> : {t["x_proj"]}
  %dt = arith.constant dense<{dense(w["dt_proj"])}> : {t["dt_proj"]}
  %dtb = arith.constant dense<{dense(w["dt_bias"])}> : {t["d"]}
  %a = arith.constant dense<{dense(w["a_log"])}> : {t["a_log"]}
  %d = arith.constant dense<{dense(w["d"])}> : {t["d"]}
  %out = arith.constant dense<{dense(w["out"])}> : {t["out"]}
  %dtn = arith.constant dense<{dense(w["dt_norm"])}> : {t["r"]}
  %bn = arith.constant dense<{dense(w["b_norm"])}> : {t["n"]}
  %cn = arith.constant dense<{dense(w["c_norm"])}> : {t["n"]}
  %y = hybrid.mamba %x, %conv, %ssm in_proj(%in) conv1d(%c) conv1d_bias(%cb) x_proj(%xp) dt_proj(%dt) dt_proj_bias(%dtb) a_log(%a) d(%d) out_proj(%out) dt_layernorm(%dtn) b_layernorm(%bn) c_layernorm(%cn) {{d_conv = {K} : i64, d_inner = {D} : i64, d_state = {N} : i64, dt_rank = {R} : i64, norm_epsilon = {EPS:.6e} : f64}} : ({act}, {conv_t}, {ssm_t}, {t["in_proj"]}, {t["conv"]}, {t["d"]}, {t["x_proj"]}, {t["dt_proj"]}, {t["d"]}, {t["a_log"]}, {t["d"]}, {t["out"]}, {t["r"]}, {t["n"]}, {t["n"]}) -> {act}
  return %y : {act}
}}
func.func @main() {{
  %zero = arith.constant 0.0 : f32
  %convm = memref.alloc() : {conv_m}
  linalg.fill ins(%zero : f32) outs(%convm : {conv_m})
  %ssmm = memref.alloc() : {ssm_m}
  linalg.fill ins(%zero : f32) outs(%ssmm : {ssm_m})
  %conv = builtin.unrealized_conversion_cast %convm : {conv_m} to {conv_t}
  %ssm = builtin.unrealized_conversion_cast %ssmm : {ssm_m} to {ssm_t}
{call("first", w["x"][:CALLS[0]])}
{call("second", w["x"][CALLS[0]:CALLS[0] + CALLS[1]])}
{call("third", w["x"][CALLS[0] + CALLS[1]:])}
  return
}}""")


def check():
    text = sys.stdin.read()
    got = []
    for block in (part.split("Unranked")[0] for part in text.split("data =")[1:]):
        got += [[float(v) for v in r.split(",")] for r in re.findall(r"\[([-0-9.e+, ]+)\]", block)]
    want = reference(weights())
    if len(got) != len(want):
        sys.exit("expected %d rows, got %d\n%s" % (len(want), len(got), text))
    scale = max(abs(v) for r in want for v in r)
    err = max(abs(g - w) for gr, wr in zip(got, want) for g, w in zip(gr, wr)) / scale
    print("max relative error %.3g over %d tokens (calls of %s continuing the states)"
          % (err, len(want), " + ".join(map(str, CALLS))))
    if err > 1e-5:
        sys.exit("FAIL")
    print("PASS")


if __name__ == "__main__":
    if len(sys.argv) > 2:
        D, N = int(sys.argv[2]), int(sys.argv[3])
        CALLS = (int(sys.argv[4]),) + CALLS[1:]
    {"emit": emit, "check": check}[sys.argv[1]]()
