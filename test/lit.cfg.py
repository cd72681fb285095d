# -*- Python -*-
import os
import sys

import lit.formats
from lit.llvm import llvm_config

config.name = "HYBRIDC"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py",
                   "fixtures", "session_test.cpp"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.hybridc_obj_root, "test")

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tool_dirs = [os.path.join(config.hybridc_obj_root, "bin"), config.llvm_tools_dir]
llvm_config.add_tool_substitutions(
    ["hybrid-opt", "hybridc", "hybrid-run", "hybrid-runtime-test",
     "hybrid-runtime-test-sanitized", "host-pool-test"], tool_dirs)

# Checked-in configs and checkpoints, and a Python (standard library only)
# for the helpers that write malformed inputs at test time.
config.substitutions.append(("%configs", os.path.join(
    config.hybridc_src_root, "examples", "configs")))
config.substitutions.append(("%fixtures", os.path.join(
    config.hybridc_src_root, "test", "fixtures")))
config.substitutions.append(("%python", sys.executable))
# The stand-in libcuda.so.1 of the CUDA device tests (test/Runtime/fake_cuda.c).
config.substitutions.append(("%{fake_cuda}", os.path.join(
    config.hybridc_obj_root, "test", "fake-cuda")))

# Execution tests run lowered kernels with mlir-runner and its print helpers.
config.substitutions.append(("%runner_libs", ",".join(
    os.path.join(config.llvm_tools_dir, "..", "lib", lib)
    for lib in ["libmlir_runner_utils.so", "libmlir_c_runner_utils.so"])))

# The reference prompts of the fixtures, as hybrid-run --prompt-ids values.
def _prompt(name):
    path = os.path.join(config.hybridc_src_root, "test", "fixtures", name,
                        "reference", "prompt_ids.txt")
    with open(path) as f:
        return f.read().strip()

for _key, _name in [("qwen_prompt", "qwen3_next_tiny"),
                    ("bf16_prompt", "qwen3_next_bf16_tiny"),
                    ("wide_prompt", "qwen3_next_wide_tiny"),
                    ("heads_prompt", "qwen3_next_heads_tiny"),
                    ("ds_heads_prompt", "deepseek_v3_heads_tiny"),
                    ("ds_mla_prompt", "deepseek_v3_bf16_mla_tiny"),
                    ("tiles_prompt", "qwen3_next_bf16_tiles_tiny"),
                    ("jamba_prompt", "jamba_tiny"),
                    ("jamba_wide_prompt", "jamba_wide_tiny"),
                    ("ds_prompt", "deepseek_v3_tiny"),
                    ("dsq_prompt", "deepseek_v3_plain_q_tiny"),
                    ("fp8_prompt", "deepseek_v3_fp8_tiny")]:
    config.substitutions.append(("%{" + _key + "}", _prompt(_name)))
# Its first 64 tokens: a prompt of whole tensor-core tiles.
config.substitutions.append(
    ("%{tiles_prompt64}",
     ",".join(_prompt("qwen3_next_bf16_tiles_tiny").split(",")[:64])))
# jamba_wide_tiny's first 12: a prompt shorter than a tile, all of whose
# rows the GPU forms' GEMVs take.
config.substitutions.append(
    ("%{jamba_wide_prompt12}",
     ",".join(_prompt("jamba_wide_tiny").split(",")[:12])))

# A CPU that rounds f32 to bf16 with an instruction of its own
# (AVX512-BF16 or AVX-NE-CONVERT): hybridc --cpu native then leaves bf16
# roundings to it (native-bf16), which EndToEnd/native-bf16.test checks.
try:
    with open("/proc/cpuinfo") as _cpuinfo:
        _flags = set(next((line.split(":", 1)[1].split() for line in _cpuinfo
                           if line.startswith("flags")), []))
except OSError:
    _flags = set()
if _flags & {"avx512_bf16", "avx_ne_convert"}:
    config.available_features.add("cpu-bf16")
else:
    lit_config.note("this CPU has no f32-to-bf16 instruction: "
                    "EndToEnd/native-bf16.test is skipped")
# AVX512-BF16's dot product: hybridc --cpu native then multiplies bf16
# linear layers two inputs at a time (bf16-dot), which EndToEnd/bf16-dot.test
# runs.
if "avx512_bf16" in _flags:
    config.available_features.add("cpu-bf16-dot")
else:
    lit_config.note("this CPU has no AVX512-BF16: EndToEnd/bf16-dot.test is "
                    "skipped")

# AVX-512 as x86-64-v4 has it, and a CPU that LLVM knows with a feature
# this one lacks (an AMD CPU's SSE4a on Intel, Sapphire Rapids' AVX512-FP16
# on AMD): EndToEnd/cpu-features.test checks that the runtime refuses
# artifacts compiled for them.
if {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"} <= _flags:
    config.available_features.add("cpu-avx512")
_foreign_cpu = (("znver4", "sse4a") if "sse4a" not in _flags else
                ("sapphirerapids", "avx512fp16")
                if "avx512_fp16" not in _flags else None)
if _foreign_cpu:
    config.available_features.add("foreign-cpu")
    config.substitutions.append(("%{foreign_cpu}", _foreign_cpu[0]))
    config.substitutions.append(("%{foreign_feature}", _foreign_cpu[1]))
else:
    lit_config.note("this CPU has SSE4a and AVX512-FP16: no CPU to refuse "
                    "artifacts for in EndToEnd/cpu-features.test")

# The CUDA target's checks that need NVIDIA's tools or driver. ptxas (the
# CUDA toolkit at $HYBRIDC_CUDA_PATH, default /usr/local/cuda) assembles the
# fixtures' PTX; a driver (libcuda.so.1) and GPU run it. Without them those
# tests are reported UNSUPPORTED, with the reason printed here.
_cuda_path = os.environ.get("HYBRIDC_CUDA_PATH", "/usr/local/cuda")
_ptxas = os.path.join(_cuda_path, "bin", "ptxas")
if os.access(_ptxas, os.X_OK):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", _ptxas))
    config.substitutions.append(("%{cuda_path}", _cuda_path))
else:
    lit_config.note("no ptxas at " + _ptxas + ": Driver/cuda-ptxas.test "
                    "(the fixtures' PTX through ptxas) is skipped")
try:
    import ctypes
    _cuda = ctypes.CDLL("libcuda.so.1")
    config.available_features.add("cuda-driver")
    lit_config.note("NVIDIA driver found: EndToEnd/cuda-vs-transformers.test "
                    "runs the fixtures on CUDA device 0")
    # sm_90a's kernels (wgmma) run on compute capability 9.0 only.
    _device, _major, _minor = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
    if (_cuda.cuInit(0) == 0 and _cuda.cuDeviceGet(ctypes.byref(_device), 0) == 0
            and _cuda.cuDeviceGetAttribute(ctypes.byref(_major), 75, _device) == 0
            and _cuda.cuDeviceGetAttribute(ctypes.byref(_minor), 76, _device) == 0
            and (_major.value, _minor.value) == (9, 0)):
        config.available_features.add("cuda-sm90")
        lit_config.note("CUDA device 0 is sm_90: EndToEnd/cuda-wgmma-vs-"
                        "transformers.test runs the sm_90a kernels")
except OSError:
    lit_config.note("no NVIDIA driver (libcuda.so.1): "
                    "EndToEnd/cuda-vs-transformers.test is skipped; "
                    "EndToEnd/cuda-device.test checks the error instead")
