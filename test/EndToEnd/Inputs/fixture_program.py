"""Turns `hybridc FIXTURE --emit=hybrid` into a program that mlir-runner can
run on the fixture's own weights, and checks its logits against the
reference transformers wrote (reference/prompt_logits.npy).

  emit IR_FILE FIXTURE_DIR CAPACITY   prints the program: every hybrid.weight
      becomes an arith.constant holding the tensor's bytes from the
      safetensors (stacked experts concatenated), and @main runs @forward on
      the reference prompt with zeroed per-sequence state and prints the
      logits;
  check FIXTURE_DIR                   reads the print-out from stdin and
      reports max |ours - transformers| / max |transformers|; fails above 1e-4.

This is a test harness for the compiler's lowering, not the runtime: the
runtime binds weights to buffers without copying them. Standard library only.
"""
import json
import os
import re
import struct
import sys

WEIGHT = re.compile(r'^(\s*)(%\S+) = hybrid\.weight "([^"]+)"(?: experts\((\d+)\))? : (tensor<[^>]+>)$')
STATE = re.compile(r'!hybrid\.(kv_cache|conv_state|recurrent_state|latent_cache)<([0-9x]+)x(\w+)>')


def tensors(folder):
    """name -> (file, offset, size) for every tensor of the checkpoint."""
    table = {}
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".safetensors"):
            continue
        path = os.path.join(folder, name)
        with open(path, "rb") as f:
            size = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(size))
        for key, entry in header.items():
            if key != "__metadata__":
                begin, end = entry["data_offsets"]
                table[key] = (path, 8 + size + begin, end - begin)
    return table


def read(entry):
    path, offset, size = entry
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(size)


def memref_of(kind, dims, element, capacity):
    shape = dims.split("x")
    if kind == "kv_cache":
        shape = ["2", str(capacity)] + shape
    elif kind == "latent_cache":
        shape = [str(capacity), str(int(shape[0]) + int(shape[1]))]
    return "memref<" + "x".join(shape) + "x" + element + ">"


def emit(ir_file, folder, capacity):
    table = tensors(folder)
    prompt = [int(v) for v in open(os.path.join(folder, "reference", "prompt_ids.txt")).read().split(",")]
    out, forward = [], None
    for line in open(ir_file).read().splitlines():
        m = WEIGHT.match(line)
        if m:
            indent, value, name, experts, ty = m.groups()
            names = [name.replace("{e}", str(e)) for e in range(int(experts))] if experts else [name]
            data = b"".join(read(table[n]) for n in names)
            out.append(f'{indent}{value} = arith.constant dense<"0x{data.hex().upper()}"> : {ty}')
            continue
        if "func.func @forward(" in line:
            forward = line
        out.append(line)
    while not out[-1].strip():
        out.pop()
    # The module's last line closes it: add @main before it.
    assert out[-1].strip() == "}"
    states = [(m.group(0), memref_of(m.group(1), m.group(2), m.group(3), capacity))
              for m in STATE.finditer(forward)]
    vocab = re.search(r"-> tensor<\?x(\d+)xf32>", forward).group(1)
    n = len(prompt)
    main = ["  func.func private @printMemrefF32(memref<*xf32>)", "  func.func @main() {",
            "    %zero = arith.constant 0.0 : f32",
            f"    %ids = arith.constant dense<{prompt}> : tensor<{n}xi64>",
            f"    %tokens = tensor.cast %ids : tensor<{n}xi64> to tensor<?xi64>",
            f"    %pos0 = arith.constant dense<{list(range(n))}> : tensor<{n}xi64>",
            f"    %positions = tensor.cast %pos0 : tensor<{n}xi64> to tensor<?xi64>"]
    args = []
    for i, (hybrid_type, memref) in enumerate(states):
        element = memref.rsplit("x", 1)[1][:-1]
        zero = "%zero" if element == "f32" else f"%zero_{i}"
        if element != "f32":
            main.append(f"    {zero} = arith.truncf %zero : f32 to {element}")
        main += [f"    %s{i}m = memref.alloc() : {memref}",
                 f"    linalg.fill ins({zero} : {element}) outs(%s{i}m : {memref})",
                 f"    %s{i} = builtin.unrealized_conversion_cast %s{i}m : {memref} to {hybrid_type}"]
        args.append((f"%s{i}", hybrid_type))
    # The logits of every prompt token: logit_rows 0..n-1, the positions.
    operands = ", ".join(["%tokens", "%positions", "%positions"] + [a for a, _ in args])
    types = ", ".join(["tensor<?xi64>"] * 3 + [t for _, t in args])
    main += [f"    %logits = call @forward({operands}) : ({types}) -> tensor<?x{vocab}xf32>",
             f"    %buffer = bufferization.to_buffer %logits : tensor<?x{vocab}xf32> to memref<?x{vocab}xf32>",
             f"    %unranked = memref.cast %buffer : memref<?x{vocab}xf32> to memref<*xf32>",
             "    call @printMemrefF32(%unranked) : (memref<*xf32>) -> ()",
             "    return", "  }"]
    print("\n".join(out[:-1] + main + [out[-1]]))


def load_npy(path):
    with open(path, "rb") as f:
        assert f.read(6) == b"\x93NUMPY"
        major = f.read(2)[0]
        size = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))[0]
        header = f.read(size).decode()
        assert "'<f4'" in header and "False" in header, header
        shape = tuple(int(d) for d in re.search(r"\(([0-9, ]+)\)", header).group(1).split(",") if d.strip())
        data = struct.unpack("<%df" % (shape[0] * shape[1]), f.read(4 * shape[0] * shape[1]))
    return [list(data[i * shape[1]:(i + 1) * shape[1]]) for i in range(shape[0])]


def check(folder):
    text = sys.stdin.read().split("data =", 1)[-1]
    got = [[float(v) for v in r.split(",")] for r in re.findall(r"\[([-0-9.e+, ]+)\]", text)]
    want = load_npy(os.path.join(folder, "reference", "prompt_logits.npy"))
    if len(got) != len(want) or any(len(g) != len(w) for g, w in zip(got, want)):
        sys.exit("shape mismatch: got %d rows, want %d" % (len(got), len(want)))
    scale = max(abs(v) for r in want for v in r)
    err = max(abs(g - w) for gr, wr in zip(got, want) for g, w in zip(gr, wr)) / scale
    same = sum(max(range(len(g)), key=g.__getitem__) == max(range(len(w)), key=w.__getitem__)
               for g, w in zip(got, want))
    print("%s: max |ours - transformers| / max |logit| = %.3g over %d positions; "
          "argmax equal at %d of %d" % (os.path.basename(folder.rstrip("/")), err,
                                         len(want), same, len(want)))
    if err > 1e-4:
        sys.exit("FAIL")
    print("PASS")


if __name__ == "__main__":
    if sys.argv[1] == "emit":
        emit(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        check(sys.argv[2])
