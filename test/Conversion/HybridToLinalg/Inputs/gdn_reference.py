"""Reference for the execution test of hybrid.gated_delta_net's lowering.

`emit` writes a program running one Gated DeltaNet layer (2 k-heads, 4
v-heads, dk 3, dv 5, conv kernel 4; models.md 1.5) three times on the same
conv window and recurrent state: 7 tokens, 2 tokens continuing, 1 more
(with hybrid-tile-scans{chunk-size=3}: a full and a ragged chunk, a chunk
starting from a non-zero state, a decode step). `check` runs the 10 tokens
in one pass in float64 with transformers' recurrent formulation and
compares the print-outs. Standard library only.
"""
import math
import random
import re
import sys

H, HK, HV, DK, DV, K, EPS = 9, 2, 4, 3, 5, 4, 1e-6
# `emit 16` / `check 16`: value heads of 16 (a whole vector panel), the
# shape the register-tiled chunked products need; `emit 16 16`: key heads of
# 16 too, which the register-tiled C x C parts need as well.
if len(sys.argv) > 2:
    DV = int(sys.argv[2])
if len(sys.argv) > 3:
    DK = int(sys.argv[3])
# `emit 16 16 37`: a first call of 37 tokens instead of 7 (full chunks of 16
# before a ragged one).
CALLS = (int(sys.argv[4]) if len(sys.argv) > 4 else 7, 2, 1)
R = HV // HK
CHANNELS = 2 * HK * DK + HV * DV


def weights():
    rng = random.Random(11)
    mat = lambda r, c, s=0.7: [[rng.uniform(-s, s) for _ in range(c)] for _ in range(r)]
    return dict(x=mat(sum(CALLS), H, 1.0), qkvz=mat(2 * HK * DK + 2 * HV * DV, H),
                ba=mat(2 * HV, H, 1.0), conv=[[[rng.uniform(-0.6, 0.6) for _ in range(K)]] for _ in range(CHANNELS)],
                dt_bias=[rng.uniform(-1, 1) for _ in range(HV)],
                a_log=[math.log(rng.uniform(0.5, 3.0)) for _ in range(HV)],
                norm=[rng.uniform(0.6, 1.4) for _ in range(DV)], out=mat(H, HV * DV))


def linear(row, w):
    return [sum(a * b for a, b in zip(row, wr)) for wr in w]


def silu(v):
    return v / (1.0 + math.exp(-v))


def reference(w):
    G = 2 * DK + 2 * R * DV
    window = [[0.0] * (K - 1) for _ in range(CHANNELS)]
    S = [[[0.0] * DV for _ in range(DK)] for _ in range(HV)]
    outputs = []
    for x in w["x"]:
        p, ba = linear(x, w["qkvz"]), linear(x, w["ba"])
        q = [p[g * G + j] for g in range(HK) for j in range(DK)]
        k = [p[g * G + DK + j] for g in range(HK) for j in range(DK)]
        v = [p[g * G + 2 * DK + i * DV + j] for g in range(HK) for i in range(R) for j in range(DV)]
        z = [p[g * G + 2 * DK + R * DV + i * DV + j] for g in range(HK) for i in range(R) for j in range(DV)]
        mixed = q + k + v
        conv = []
        for c, value in enumerate(mixed):
            taps = window[c] + [value]
            conv.append(silu(sum(wc * tv for wc, tv in zip(w["conv"][c][0], taps))))
            window[c] = taps[1:]
        o_all = []
        for h in range(HV):
            g_, i_ = divmod(h, R)
            beta = 1.0 / (1.0 + math.exp(-ba[g_ * 2 * R + i_]))
            a = ba[g_ * 2 * R + R + i_] + w["dt_bias"][h]
            softplus = a if a > 20 else math.log1p(math.exp(a))
            decay = math.exp(-math.exp(w["a_log"][h]) * softplus)
            kh = h // R
            qv = conv[kh * DK:(kh + 1) * DK]
            kv = conv[HK * DK + kh * DK:HK * DK + (kh + 1) * DK]
            vv = conv[2 * HK * DK + h * DV:2 * HK * DK + (h + 1) * DV]
            qn = 1.0 / math.sqrt(sum(e * e for e in qv) + 1e-6) / math.sqrt(DK)
            kn = 1.0 / math.sqrt(sum(e * e for e in kv) + 1e-6)
            qv = [e * qn for e in qv]
            kv = [e * kn for e in kv]
            St = S[h]
            for i in range(DK):
                for j in range(DV):
                    St[i][j] *= decay
            mem = [sum(St[i][j] * kv[i] for i in range(DK)) for j in range(DV)]
            u = [beta * (vv[j] - mem[j]) for j in range(DV)]
            for i in range(DK):
                for j in range(DV):
                    St[i][j] += kv[i] * u[j]
            o = [sum(St[i][j] * qv[i] for i in range(DK)) for j in range(DV)]
            inv = 1.0 / math.sqrt(sum(e * e for e in o) / DV + EPS)
            zz = z[h * DV:(h + 1) * DV]
            o_all += [e * inv * wn * silu(zv) for e, wn, zv in zip(o, w["norm"], zz)]
        outputs.append(linear(o_all, w["out"]))
    return outputs


def dense(rows):
    if not isinstance(rows[0], list):
        return "[" + ", ".join("%.9e" % v for v in rows) + "]"
    return "[" + ", ".join(dense(r) for r in rows) + "]"


def emit():
    w = weights()
    act = f"tensor<?x{H}xf32>"
    conv_t = f"!hybrid.conv_state<{CHANNELS}x{K-1}xf32>"
    rec_t = f"!hybrid.recurrent_state<{HV}x{DK}x{DV}xf32>"
    conv_m = f"memref<{CHANNELS}x{K-1}xf32>"
    rec_m = f"memref<{HV}x{DK}x{DV}xf32>"
    wt = dict(qkvz=f"tensor<{2*HK*DK+2*HV*DV}x{H}xf32>", ba=f"tensor<{2*HV}x{H}xf32>",
              conv=f"tensor<{CHANNELS}x1x{K}xf32>", hv=f"tensor<{HV}xf32>",
              norm=f"tensor<{DV}xf32>", out=f"tensor<{H}x{HV*DV}xf32>")
    def call(name, rows):
        n = len(rows)
        return f"""  %{name}_x = arith.constant dense<{dense(rows)}> : tensor<{n}x{H}xf32>
  %{name}_xd = tensor.cast %{name}_x : tensor<{n}x{H}xf32> to {act}
  %{name}_o = call @layer(%{name}_xd, %conv, %rec) : ({act}, {conv_t}, {rec_t}) -> {act}
  %{name}_b = bufferization.to_buffer %{name}_o : {act} to memref<?x{H}xf32>
  %{name}_u = memref.cast %{name}_b : memref<?x{H}xf32> to memref<*xf32>
  call @printMemrefF32(%{name}_u) : (memref<*xf32>) -> ()"""
    print(f"""func.func private @printMemrefF32(memref<*xf32>)
func.func @layer(%x: {act}, %conv: {conv_t}, %rec: {rec_t}) -> {act} {{
  %qkvz = arith.constant dense<{dense(w["qkvz"])}> : {wt["qkvz"]}
  %ba = arith.constant dense<{dense(w["ba"])}> : {wt["ba"]}
  %c = arith.constant dense<{dense(w["conv"])}> : {wt["conv"]}
  %dtb = arith.constant dense<{dense(w["dt_bias"])}> : {wt["hv"]}
  %alog = arith.constant dense<{dense(w["a_log"])}> : {wt["hv"]}
  %n = arith.constant dense<{dense(w["norm"])}> : {wt["norm"]}
  %out = arith.constant dense<{dense(w["out"])}> : {wt["out"]}
  %y = hybrid.gated_delta_net %x, %conv, %rec in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%dtb) a_log(%alog) norm(%n) out_proj(%out) {{conv_kernel = {K} : i64, k_head_dim = {DK} : i64, norm_epsilon = {EPS:.6e} : f64, num_k_heads = {HK} : i64, num_v_heads = {HV} : i64, v_head_dim = {DV} : i64}} : ({act}, {conv_t}, {rec_t}, {wt["qkvz"]}, {wt["ba"]}, {wt["conv"]}, {wt["hv"]}, {wt["hv"]}, {wt["norm"]}, {wt["out"]}) -> {act}
  return %y : {act}
}}
func.func @main() {{
  %zero = arith.constant 0.0 : f32
  %convm = memref.alloc() : {conv_m}
  linalg.fill ins(%zero : f32) outs(%convm : {conv_m})
  %recm = memref.alloc() : {rec_m}
  linalg.fill ins(%zero : f32) outs(%recm : {rec_m})
  %conv = builtin.unrealized_conversion_cast %convm : {conv_m} to {conv_t}
  %rec = builtin.unrealized_conversion_cast %recm : {rec_m} to {rec_t}
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
    {"emit": emit, "check": check}[sys.argv[1]]()
