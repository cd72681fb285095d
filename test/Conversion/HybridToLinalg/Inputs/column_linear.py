"""The packed linear layers' two workgroup forms on the same inputs.

  column_linear.py model          the model: a SwiGLU MLP (gate and up in one
                                  kernel with the SwiGLU epilogue, then down),
                                  a MoE block (8 experts, top 3, grouped by
                                  expert after hybrid-fuse-moe-routing) and an
                                  LM head, weights as hybrid.weight
  column_linear.py main FILE      FILE (the model after convert-hybrid-to-linalg
                                  and hybrid-weights-to-arguments) with a @main
                                  that calls @forward on 11 tokens (a full tile
                                  of 8 and a ragged one) and fixed packed
                                  weights, and prints the logits

Both forms sum each output over the inputs in order with FMAs, so the panel
form (CPU) and the column form (GPU) must print the same numbers.
"""
import re
import sys

TOKENS, HIDDEN, INTER, VOCAB, EXPERTS, EXPERT_INTER = 11, 24, 36, 40, 8, 20

MODEL = f"""
func.func @forward(%x: tensor<?x{HIDDEN}xf32>) -> tensor<?x{VOCAB}xf32> {{
  %g = hybrid.weight "gate" : tensor<{INTER}x{HIDDEN}xf32>
  %u = hybrid.weight "up" : tensor<{INTER}x{HIDDEN}xf32>
  %d = hybrid.weight "down" : tensor<{HIDDEN}x{INTER}xf32>
  %h = hybrid.weight "head" : tensor<{VOCAB}x{HIDDEN}xf32>
  %r = hybrid.weight "router" : tensor<{EXPERTS}x{HIDDEN}xf32>
  %eg = hybrid.weight "e.{{e}}.gate" experts({EXPERTS}) : tensor<{EXPERTS}x{EXPERT_INTER}x{HIDDEN}xf32>
  %eu = hybrid.weight "e.{{e}}.up" experts({EXPERTS}) : tensor<{EXPERTS}x{EXPERT_INTER}x{HIDDEN}xf32>
  %ed = hybrid.weight "e.{{e}}.down" experts({EXPERTS}) : tensor<{EXPERTS}x{HIDDEN}x{EXPERT_INTER}xf32>
  %m = hybrid.mlp %x gate_proj(%g) up_proj(%u) down_proj(%d) : (tensor<?x{HIDDEN}xf32>, tensor<{INTER}x{HIDDEN}xf32>, tensor<{INTER}x{HIDDEN}xf32>, tensor<{HIDDEN}x{INTER}xf32>) -> tensor<?x{HIDDEN}xf32>
  %e = hybrid.moe softmax %m router(%r) experts_gate(%eg) experts_up(%eu) experts_down(%ed) {{num_experts = {EXPERTS} : i64, top_k = 3 : i64, norm_topk_prob = true}} : (tensor<?x{HIDDEN}xf32>, tensor<{EXPERTS}x{HIDDEN}xf32>, tensor<{EXPERTS}x{EXPERT_INTER}x{HIDDEN}xf32>, tensor<{EXPERTS}x{EXPERT_INTER}x{HIDDEN}xf32>, tensor<{EXPERTS}x{HIDDEN}x{EXPERT_INTER}xf32>) -> tensor<?x{HIDDEN}xf32>
  %l = hybrid.lm_head %e, %h : (tensor<?x{HIDDEN}xf32>, tensor<{VOCAB}x{HIDDEN}xf32>) -> tensor<?x{VOCAB}xf32>
  return %l : tensor<?x{VOCAB}xf32>
}}
"""


def dense(shape, seed):
    """A dense attribute of `shape` with small values that vary by index."""
    count = 1
    for d in shape:
        count *= d
    values = [((i * 37 + seed * 11) % 29 - 14) / 32.0 for i in range(count)]

    def nest(values, shape):
        if len(shape) == 1:
            return "[" + ", ".join(repr(v) for v in values) + "]"
        step = len(values) // shape[0]
        return "[" + ", ".join(nest(values[i * step:(i + 1) * step], shape[1:])
                               for i in range(shape[0])) + "]"
    return nest(values, shape)


def main(path):
    text = open(path).read()
    signature = re.search(r"func\.func @forward\(([^)]*)\)", text).group(1)
    types = re.findall(r"%\w+: (tensor<[^>]+>)", signature)
    lines = [f"func.func private @printMemrefF32(memref<*xf32>)", "func.func @main() {",
             f"  %x0 = arith.constant dense<{dense([TOKENS, HIDDEN], 1)}> : tensor<{TOKENS}x{HIDDEN}xf32>",
             f"  %x = tensor.cast %x0 : tensor<{TOKENS}x{HIDDEN}xf32> to tensor<?x{HIDDEN}xf32>"]
    args = ["%x"]
    for i, t in enumerate(types[1:]):
        shape = [int(d) for d in re.match(r"tensor<([0-9x]+)xf32>", t).group(1).split("x")]
        lines.append(f"  %w{i} = arith.constant dense<{dense(shape, i + 2)}> : {t}")
        args.append(f"%w{i}")
    lines += [f"  %y = func.call @forward({', '.join(args)}) : ({', '.join(types)}) -> tensor<?x{VOCAB}xf32>",
              f"  %b = bufferization.to_buffer %y : tensor<?x{VOCAB}xf32> to memref<?x{VOCAB}xf32>",
              f"  %u = memref.cast %b : memref<?x{VOCAB}xf32> to memref<*xf32>",
              "  call @printMemrefF32(%u) : (memref<*xf32>) -> ()",
              "  return", "}"]
    body = text.rstrip()
    assert body.endswith("}")
    print(body[:-1] + "\n".join(lines) + "\n}")


if __name__ == "__main__":
    if sys.argv[1] == "model":
        print(MODEL)
    else:
        main(sys.argv[2])
