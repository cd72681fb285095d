"""The packed linear layers' workgroup forms (the CPU's panels, the GPU's
columns and tensor-core tiles) on the same inputs.

  column_linear.py model          the model: an attention layer (q, k and v
                                  projections in one kernel; a KV cache of
                                  CAPACITY positions), a SwiGLU MLP (gate and
                                  up in one kernel with the SwiGLU epilogue,
                                  then down),
                                  a MoE block (5 experts, top 4, grouped by
                                  expert after hybrid-fuse-moe-routing) and an
                                  LM head, weights as hybrid.weight
  column_linear.py main FILE      FILE (the model after convert-hybrid-to-linalg
                                  and hybrid-weights-to-arguments) with a @main
                                  that calls @forward on 43 tokens (column
                                  tiles of 8; two full tiles of 16 and a rest
                                  for the mma form) at positions 0..42 of an
                                  empty cache, with fixed packed
                                  weights, and prints the logits

  column_linear.py compare A B    the largest difference between the logits
                                  two runs printed, relative to the largest
                                  logit; fails above 1e-5 (2e-2 with --bf16)

  column_linear.py --bf16 MODE    the same with bf16 weights and other sizes
  column_linear.py --fp8 MODE     the same with DeepSeek-V3's fp8 weights
                                  (hybrid.dequantize of e4m3fn tensors and
                                  their block scales, to bf16) but for the
                                  router and head, and other sizes
  column_linear.py --fp8-dequantized MODE   the --fp8 model with its
                                  weights as transformers dequantizes them
                                  (stored bf16): a reference for the forms
                                  that read fp8
  column_linear.py --tokens N MODE  the same on N tokens (main, compare)
  column_linear.py --tolerance T compare A B   with tolerance T

The linear layers of the panel and column forms sum each output over the
inputs in order with FMAs (the same digits); the MoE router's logits are
summed in another order in the GPU form (a linear layer instead of dot
products in the routing kernel), as are attention's (split KV) and the mma
form's contract tiles (steps of 8 inputs), hence a tolerance rather than
equality.
"""
import bisect
import functools
import re
import struct
import sys

# --bf16 (before the mode): bf16 weights, and inputs that are multiples of
# 16 (the bf16 tiles' depth), so that every layer but the router takes the
# mma form; its tiles multiply bf16-rounded activations, hence a bf16
# tolerance.
BF16 = len(sys.argv) > 1 and sys.argv[1] == "--bf16"
if BF16:
    del sys.argv[1]
# --fp8 (before the mode): the linear layers' weights (not the router's and
# the head's) fp8 e4m3fn with f32 scales per block of FP8_BLOCK, dequantized
# to bf16; inputs that are multiples of 64 (the GEMV form's slices of 16
# one-byte weights), 192 gate/up rows (three block rows: panels 0, 1 scale by
# the first, 2, 3 by the second, ...), blocks of 24 inputs that divide no
# layer, and down projections of 192 inputs (the CPU panel form stages fp8
# weights in chunks of 128 inputs: a full chunk and a part).
FP8 = len(sys.argv) > 1 and sys.argv[1] == "--fp8"
# --fp8-dequantized (before the mode): the --fp8 sizes and weights, each
# quantized weight given as its dequantized bf16 values (decode x scale in
# f32, rounded to bf16), so that no kernel of the model decodes fp8.
FP8_DEQUANTIZED = len(sys.argv) > 1 and sys.argv[1] == "--fp8-dequantized"
if FP8 or FP8_DEQUANTIZED:
    del sys.argv[1]
    BF16 = True
FP8_BLOCK = (64, 24)
TOKENS, HIDDEN, INTER, VOCAB, EXPERTS, TOP_K, EXPERT_INTER = (
    (43, 64, 192, 40, 5, 4, 192) if FP8 or FP8_DEQUANTIZED else
    (43, 32, 48, 40, 5, 4, 32) if BF16 else (43, 24, 40, 40, 5, 4, 24))
# --tokens N (before the mode): calls of N tokens, e.g. few enough for the
# GPU forms' GEMV kernels.
if len(sys.argv) > 2 and sys.argv[1] == "--tokens":
    TOKENS = int(sys.argv[2])
    del sys.argv[1:3]
WEIGHT_TYPE = "bf16" if BF16 else "f32"
TOLERANCE = 2e-2 if BF16 else 1e-5
# --tolerance T (before the mode): for forms that multiply the same
# operands (bf16 weights, f32 x) in another order.
if len(sys.argv) > 2 and sys.argv[1] == "--tolerance":
    TOLERANCE = float(sys.argv[2])
    del sys.argv[1:3]
HEADS, KV_HEADS, HEAD_DIM, CAPACITY = 2, 1, 8, 64

MODEL = f"""
func.func @forward(%x0: tensor<?x{HIDDEN}xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<{KV_HEADS}x{HEAD_DIM}xf32>) -> tensor<?x{VOCAB}xf32> {{
  %q = hybrid.weight "q" : tensor<{HEADS * HEAD_DIM}x{HIDDEN}xf32>
  %k = hybrid.weight "k" : tensor<{KV_HEADS * HEAD_DIM}x{HIDDEN}xf32>
  %v = hybrid.weight "v" : tensor<{KV_HEADS * HEAD_DIM}x{HIDDEN}xf32>
  %o = hybrid.weight "o" : tensor<{HIDDEN}x{HEADS * HEAD_DIM}xf32>
  %x = hybrid.attention %x0, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {{head_dim = {HEAD_DIM} : i64, num_heads = {HEADS} : i64, num_kv_heads = {KV_HEADS} : i64, rope_theta = 1.0e+04 : f64, rotary_dim = {HEAD_DIM} : i64, scale = 0.35 : f64}} : (tensor<?x{HIDDEN}xf32>, tensor<?xi64>, !hybrid.kv_cache<{KV_HEADS}x{HEAD_DIM}xf32>, tensor<{HEADS * HEAD_DIM}x{HIDDEN}xf32>, tensor<{KV_HEADS * HEAD_DIM}x{HIDDEN}xf32>, tensor<{KV_HEADS * HEAD_DIM}x{HIDDEN}xf32>, tensor<{HIDDEN}x{HEADS * HEAD_DIM}xf32>) -> tensor<?x{HIDDEN}xf32>
  %g = hybrid.weight "gate" : tensor<{INTER}x{HIDDEN}xf32>
  %u = hybrid.weight "up" : tensor<{INTER}x{HIDDEN}xf32>
  %d = hybrid.weight "down" : tensor<{HIDDEN}x{INTER}xf32>
  %h = hybrid.weight "head" : tensor<{VOCAB}x{HIDDEN}xf32>
  %r = hybrid.weight "router" : tensor<{EXPERTS}x{HIDDEN}xf32>
  %eg = hybrid.weight "e.{{e}}.gate" experts({EXPERTS}) : tensor<{EXPERTS}x{EXPERT_INTER}x{HIDDEN}xf32>
  %eu = hybrid.weight "e.{{e}}.up" experts({EXPERTS}) : tensor<{EXPERTS}x{EXPERT_INTER}x{HIDDEN}xf32>
  %ed = hybrid.weight "e.{{e}}.down" experts({EXPERTS}) : tensor<{EXPERTS}x{HIDDEN}x{EXPERT_INTER}xf32>
  %m = hybrid.mlp %x gate_proj(%g) up_proj(%u) down_proj(%d) : (tensor<?x{HIDDEN}xf32>, tensor<{INTER}x{HIDDEN}xf32>, tensor<{INTER}x{HIDDEN}xf32>, tensor<{HIDDEN}x{INTER}xf32>) -> tensor<?x{HIDDEN}xf32>
  %e = hybrid.moe softmax %m router(%r) experts_gate(%eg) experts_up(%eu) experts_down(%ed) {{num_experts = {EXPERTS} : i64, top_k = {TOP_K} : i64, norm_topk_prob = true}} : (tensor<?x{HIDDEN}xf32>, tensor<{EXPERTS}x{HIDDEN}xf32>, tensor<{EXPERTS}x{EXPERT_INTER}x{HIDDEN}xf32>, tensor<{EXPERTS}x{EXPERT_INTER}x{HIDDEN}xf32>, tensor<{EXPERTS}x{HIDDEN}x{EXPERT_INTER}xf32>) -> tensor<?x{HIDDEN}xf32>
  %l = hybrid.lm_head %e, %h : (tensor<?x{HIDDEN}xf32>, tensor<{VOCAB}x{HIDDEN}xf32>) -> tensor<?x{VOCAB}xf32>
  return %l : tensor<?x{VOCAB}xf32>
}}
"""
# Weights (the static-shaped tensors) in WEIGHT_TYPE.
MODEL = re.sub(r"tensor<([0-9][0-9x]*)xf32>", rf"tensor<\1x{WEIGHT_TYPE}>", MODEL)
QUANTIZED = ["q", "k", "v", "o", "gate", "up", "down",
             "e.{e}.gate", "e.{e}.up", "e.{e}.down"]


def scale_shape(shape):
    """The block scales' shape of a weight of `shape`."""
    return shape[:-2] + [-(-shape[-2] // FP8_BLOCK[0]), -(-shape[-1] // FP8_BLOCK[1])]


def quantize_model(model):
    """Each weight of QUANTIZED as its fp8 tensor and block scales
    ("NAME_scale_inv"), dequantized where the weight was defined."""
    def replace(match):
        var, name, experts, dims = match.groups()
        experts = experts or ""
        shape = [int(d) for d in dims.split("x")]
        scales = "x".join(str(d) for d in scale_shape(shape))
        plain = f"tensor<{dims}xbf16>"
        return (f'{var}_q = hybrid.weight "{name}"{experts} : tensor<{dims}xf8E4M3FN>\n'
                f'  {var}_s = hybrid.weight "{name}_scale_inv"{experts} : tensor<{scales}xf32>\n'
                f'  {var} = hybrid.dequantize {var}_q, {var}_s block [{FP8_BLOCK[0]}, {FP8_BLOCK[1]}]'
                f' : (tensor<{dims}xf8E4M3FN>, tensor<{scales}xf32>) -> {plain}')
    names = "|".join(re.escape(n) for n in QUANTIZED)
    return re.sub(rf'(%\w+) = hybrid\.weight "({names})"( experts\(\d+\))? : '
                  r"tensor<([0-9x]+)xbf16>", replace, model)


if FP8:
    MODEL = quantize_model(MODEL)


# Each weight's checkpoint shape ([experts,] out, in).
SHAPES = {"q": [HEADS * HEAD_DIM, HIDDEN], "k": [KV_HEADS * HEAD_DIM, HIDDEN],
          "v": [KV_HEADS * HEAD_DIM, HIDDEN], "o": [HIDDEN, HEADS * HEAD_DIM],
          "gate": [INTER, HIDDEN], "up": [INTER, HIDDEN], "down": [HIDDEN, INTER],
          "head": [VOCAB, HIDDEN], "router": [EXPERTS, HIDDEN],
          "e.{e}.gate": [EXPERTS, EXPERT_INTER, HIDDEN],
          "e.{e}.up": [EXPERTS, EXPERT_INTER, HIDDEN],
          "e.{e}.down": [EXPERTS, HIDDEN, EXPERT_INTER]}


def values(count, seed):
    """Small pseudo-random values (a linear congruential sequence: no two
    router logits tie, so both forms choose the same experts)."""
    out, state = [], seed * 7919 + 1
    for _ in range(count):
        state = (state * 1103515245 + 12345) % (1 << 31)
        out.append((state % 2001 - 1000) / 4000.0)
    return out


def weight(name):
    """The checkpoint values of weight `name`, row-major, seeded by name.
    fp8 models: the even experts' down projections 2^20 times larger, so
    that their blocks' scales pass 2^8 (the CPU panel form's rows of one
    tile then scale in two products, the others' in one)."""
    count = 1
    for d in SHAPES[name]:
        count *= d
    flat = values(count, sum(ord(c) * (i + 1) for i, c in enumerate(name)))
    if (FP8 or FP8_DEQUANTIZED) and name == "e.{e}.down":
        per = count // EXPERTS
        flat = [v * 2.0 ** 20 if (i // per) % 2 == 0 else v for i, v in enumerate(flat)]
    return flat


def decode_fp8(bits):
    """An fp8 e4m3fn bit pattern's value (1 sign, 4 exponent bits with bias 7,
    3 mantissa bits, subnormals; NaN is never produced here)."""
    sign = -1.0 if bits & 0x80 else 1.0
    exponent, mantissa = (bits >> 3) & 0xF, bits & 0x7
    if exponent == 0:
        return sign * mantissa / 8.0 * 2.0 ** -6
    return sign * (1.0 + mantissa / 8.0) * 2.0 ** (exponent - 7)


# The finite non-negative fp8 values (bits 0 .. 0x7E), ascending.
FP8_VALUES = [decode_fp8(b) for b in range(0x7F)]


def encode_fp8(value):
    """The bits of the fp8 value nearest `value` (ties to the smaller)."""
    magnitude = abs(value)
    above = min(bisect.bisect_left(FP8_VALUES, magnitude), 0x7E)
    bits = above if above == 0 or (FP8_VALUES[above] - magnitude <
                                    magnitude - FP8_VALUES[above - 1]) else above - 1
    return bits | (0x80 if value < 0 and bits != 0 else 0)


@functools.lru_cache(maxsize=None)
def quantized(name):
    """`name`'s checkpoint values quantized as DeepSeek-V3 stores them:
    per block, scale = largest magnitude / 448 and q = fp8(value / scale).
    Returns (bits, scales), both row-major."""
    shape, flat = SHAPES[name], weight(name)
    out, inp = shape[-2], shape[-1]
    experts = shape[0] if len(shape) == 3 else 1
    rows, cols = scale_shape([out, inp])
    scales = []
    for e in range(experts):
        for r in range(rows):
            for c in range(cols):
                block = [abs(flat[(e * out + i) * inp + j])
                         for i in range(r * FP8_BLOCK[0], min(out, (r + 1) * FP8_BLOCK[0]))
                         for j in range(c * FP8_BLOCK[1], min(inp, (c + 1) * FP8_BLOCK[1]))]
                scales.append(max(block) / 448.0)
    bits = []
    for e in range(experts):
        for i in range(out):
            for j in range(inp):
                s = scales[(e * rows + i // FP8_BLOCK[0]) * cols + j // FP8_BLOCK[1]]
                bits.append(encode_fp8(flat[(e * out + i) * inp + j] / s))
    return bits, scales


def f32(value):
    """`value` rounded to f32 (to nearest, ties to even)."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


def bf16(value):
    """`value` (an f32) rounded to bf16 (to nearest, ties to even)."""
    bits = struct.unpack("<I", struct.pack("<f", value))[0]
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def dequantized(name):
    """`name`'s fp8 weights as a dequantized checkpoint holds them: each
    decoded value times its block's scale (an f32, as the model's constant
    is parsed), the product in f32, rounded to bf16. Row-major."""
    bits, scales = quantized(name)
    shape = SHAPES[name]
    out, inp = shape[-2], shape[-1]
    rows, cols = scale_shape([out, inp])
    result = []
    for n, b in enumerate(bits):
        e, i, j = n // (out * inp), n // inp % out, n % inp
        s = f32(scales[(e * rows + i // FP8_BLOCK[0]) * cols + j // FP8_BLOCK[1]])
        result.append(bf16(f32(decode_fp8(b) * s)))
    return result


def checkpoint(name):
    """The tensor hybrid.weight `name` binds, row-major: fp8 bits, block
    scales, dequantized or plain values."""
    if name.endswith("_scale_inv"):
        return quantized(name[:-len("_scale_inv")])[1]
    if FP8 and name in QUANTIZED:
        return quantized(name)[0]
    if FP8_DEQUANTIZED and name in QUANTIZED:
        return dequantized(name)
    return weight(name)


def packed(name, panel):
    """`name` packed as the artifact writer packs it: [panels, in, panel]
    per expert, outputs past the last one zero."""
    shape, flat = SHAPES[name], checkpoint(name)
    experts = shape[0] if len(shape) == 3 else 1
    out, inp = shape[-2], shape[-1]
    panels = -(-out // panel)
    result = []
    for e in range(experts):
        for p in range(panels):
            for k in range(inp):
                for j in range(panel):
                    o = p * panel + j
                    result.append(flat[(e * out + o) * inp + k] if o < out
                                  else type(flat[0])(0))
    return result


def dense(flat, shape):
    """A dense attribute of `shape` holding `flat`."""
    def nest(values, shape):
        if len(shape) == 1:
            return "[" + ", ".join(repr(v) for v in values) + "]"
        step = len(values) // shape[0]
        return "[" + ", ".join(nest(values[i * step:(i + 1) * step], shape[1:])
                               for i in range(shape[0])) + "]"
    return nest(flat, shape)


def main(path):
    text = open(path).read()
    signature = re.search(r"func\.func @forward\((.*)\) -> ", text).group(1)
    # Attribute dicts may hold "{e}" in weight names: skip quoted strings.
    args = re.findall(r'%\w+: ((?:tensor|memref)<[^>]+>)( \{(?:[^}"]|"[^"]*")*\})?', signature)
    types = [t for t, _ in args]
    lines = ["func.func private @printMemrefF32(memref<*xf32>)", "func.func @main() {",
             f"  %x0 = arith.constant dense<{dense(values(TOKENS * HIDDEN, 1), [TOKENS, HIDDEN])}> : tensor<{TOKENS}x{HIDDEN}xf32>",
             f"  %x = tensor.cast %x0 : tensor<{TOKENS}x{HIDDEN}xf32> to tensor<?x{HIDDEN}xf32>",
             f"  %p0 = arith.constant dense<{list(range(TOKENS))}> : tensor<{TOKENS}xi64>",
             f"  %pos = tensor.cast %p0 : tensor<{TOKENS}xi64> to tensor<?xi64>",
             "  %zero = arith.constant 0.0 : f32"]
    names = []
    for i, (t, attrs) in enumerate(args):
        if i == 0:
            names.append("%x")
        elif t == "tensor<?xi64>":
            names.append("%pos")
        elif t.startswith("memref"):
            # The KV cache, empty.
            lines += [f"  %cache{i} = memref.alloc() : {t}",
                      f"  linalg.fill ins(%zero : f32) outs(%cache{i} : {t})"]
            names.append(f"%cache{i}")
        else:
            shape = [int(d) for d in re.match(r"tensor<([0-9x]+)x(?:f32|bf16|f8E4M3FN)>", t).group(1).split("x")]
            name = re.search(r'hybrid.weight = "([^"]+)"', attrs).group(1)
            panel = re.search(r"hybrid.packed = (\d+)", attrs)
            flat = packed(name, int(panel.group(1))) if panel else checkpoint(name)
            # fp8 tensors as their bytes, in hex.
            literal = ('"0x' + "".join("%02X" % v for v in flat) + '"'
                       if t.endswith("xf8E4M3FN>") else dense(flat, shape))
            lines.append(f"  %w{i} = arith.constant dense<{literal}> : {t}")
            names.append(f"%w{i}")
    lines += [f"  %y = func.call @forward({', '.join(names)}) : ({', '.join(types)}) -> tensor<?x{VOCAB}xf32>",
              f"  %b = bufferization.to_buffer %y : tensor<?x{VOCAB}xf32> to memref<?x{VOCAB}xf32>",
              f"  %u = memref.cast %b : memref<?x{VOCAB}xf32> to memref<*xf32>",
              "  call @printMemrefF32(%u) : (memref<*xf32>) -> ()",
              "  return", "}"]
    body = text.rstrip()
    assert body.endswith("}")
    print(body[:-1] + "\n".join(lines) + "\n}")


def logits(path):
    text = open(path).read()
    rows = re.findall(r"\[([-0-9.e+, ]+)\]", text.split("data =", 1)[-1])
    return [[float(v) for v in r.split(",")] for r in rows if "," in r]


def compare(a, b):
    x, y = logits(a), logits(b)
    if len(x) != TOKENS or [len(r) for r in x] != [len(r) for r in y]:
        sys.exit("shape mismatch: %d and %d rows" % (len(x), len(y)))
    scale = max(abs(v) for r in x for v in r)
    diff = max(abs(p - q) for r, s in zip(x, y) for p, q in zip(r, s)) / scale
    print("largest difference %.3g of the largest logit over %d logits" %
          (diff, sum(len(r) for r in x)))
    if diff > TOLERANCE:
        sys.exit("FAIL: above %g" % TOLERANCE)
    print("PASS")


if __name__ == "__main__":
    if sys.argv[1] == "model":
        print(MODEL)
    elif sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        main(sys.argv[2])
