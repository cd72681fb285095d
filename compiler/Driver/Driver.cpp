//===- Driver.cpp - The hybridc compiler driver -----------------*- C++ -*-===//
//
// hybridc MODEL [--target=cpu|cuda] [--emit=import|hybrid|linalg|kernel|llvm|ptx]
//               [--report[=json]] [-o FILE]
//
// Imports MODEL (a checkpoint folder or a config.json), runs the passes of
// each stage the requested output needs, and writes the result atomically:
// a failed run never leaves a partial output file.
//
//===----------------------------------------------------------------------===//

#include "compiler/Driver/Driver.h"
#include "compiler/Driver/ArtifactWriter.h"
#include "compiler/Driver/Report.h"

#include "dialects/Hybrid/IR/HybridOps.h"
#include "frontends/HF/Import.h"

#include "passes/Passes.h"
#include "passes/Pipelines.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;
using namespace mlir;

namespace {
cl::OptionCategory category("hybridc options");

cl::opt<std::string> modelPath(cl::Positional, cl::Required,
                               cl::desc("<checkpoint folder or config.json>"),
                               cl::cat(category));
cl::opt<std::string> outputPath(
    "o",
    cl::desc("Output file: the artifact (default model.hyb), or the --emit / "
             "--report text (default stdout, also '-')"),
    cl::value_desc("file"), cl::cat(category));

cl::opt<std::string> cpu(
    "cpu",
    cl::desc("CPU the artifact's code is compiled for: x86-64-v3 (AVX2+FMA, "
             "default), x86-64-v4 (AVX-512), native (this machine; its "
             "f32-to-bf16 instruction where it has one) or the name of one "
             "with AVX2 and FMA as LLVM knows it (znver4, sapphirerapids). "
             "The runtime refuses the artifact on a CPU without its features"),
    cl::init("x86-64-v3"), cl::cat(category));

enum class WeightsMode { Embed, External };
cl::opt<WeightsMode> weightsMode(
    "weights", cl::desc("Where the artifact's weights are"),
    cl::values(clEnumValN(WeightsMode::Embed, "embed",
                          "copied into the artifact, aligned (default)"),
               clEnumValN(WeightsMode::External, "external",
                          "read at load from the checkpoint's safetensors "
                          "files, which must then stay unchanged. The CPU "
                          "maps them, but copies MoE experts, which a "
                          "checkpoint stores apart, into stacked buffers "
                          "(memory for every expert: embed MoE models); "
                          "CUDA copies each tensor to the GPU")),
    cl::init(WeightsMode::Embed), cl::cat(category));

cl::opt<bool> packWeights(
    "pack-weights",
    cl::desc("Pack linear layers' weights in panels of outputs for the "
             "outer-product kernels (default on; 64 outputs per panel with "
             "AVX-512, 16 with AVX2, 32 with --target=cuda, where each GPU "
             "thread computes one output column). --weights=external reads the "
             "checkpoint's layout as is, so it does not pack"),
    cl::init(true), cl::cat(category));

cl::opt<bool> bf16Dot(
    "bf16-dot",
    cl::desc("With a --cpu with AVX512-BF16 (native on Zen 4, Sapphire "
             "Rapids and later; znver4): linear layers with bf16 weights multiply "
             "two inputs at a time by its dot product, their weights packed "
             "in pairs of inputs and x rounded to bf16 (as transformers' "
             "bf16 forward and the GPU's bf16 tiles round it): twice the "
             "multiply-adds of f32 FMAs per instruction. Default on where "
             "the CPU has it; =false keeps x in f32"),
    cl::init(true), cl::cat(category));

cl::opt<bool> fuseMoERouting(
    "fuse-moe-routing",
    cl::desc("Compile MoE blocks as one routing kernel per token plus "
             "experts grouped by expert (hybrid-fuse-moe-routing; default "
             "on). Off keeps the per-token reference form, in which every "
             "chosen expert runs for each token alone"),
    cl::init(true), cl::cat(category));

cl::opt<hybrid::Target> target(
    "target", cl::desc("What the kernels run on"),
    cl::values(clEnumValN(hybrid::Target::CPU, "cpu",
                          "this machine's kind of CPU (default; see --cpu)"),
               clEnumValN(hybrid::Target::CUDA, "cuda",
                          "NVIDIA GPUs: kernels to PTX through the gpu "
                          "dialect, NVVM and LLVM's NVPTX backend (see "
                          "--cuda-arch); the plan runs on the host CPU")),
    cl::init(hybrid::Target::CPU), cl::cat(category));

cl::opt<bool> gpuKernelForms(
    "gpu-kernel-forms",
    cl::desc("With --target=cpu: shape the kernels as --target=cuda does (a "
             "workgroup per output column, per state column, per KV split; "
             "tensor-core tiles as vector contracts; the delta rule's chunks "
             "a workgroup per head in cooperative steps) "
             "and run them on this CPU: checks those forms against the "
             "checkpoint's outputs where no GPU is. Slower than the CPU "
             "forms; not for deployment"),
    cl::init(false), cl::cat(category));

enum class ParallelOrder { Forward, Reversed };
cl::opt<ParallelOrder> parallelOrder(
    "parallel-order",
    cl::desc("With --target=cpu: the order in which the CPU runs the "
             "iterations of each kernel's workgroups and of a workgroup's "
             "parallel phases, which a GPU runs at once"),
    cl::values(clEnumValN(ParallelOrder::Forward, "forward",
                          "first to last (default)"),
               clEnumValN(ParallelOrder::Reversed, "reversed",
                          "last to first: a check (with --gpu-kernel-forms, of "
                          "the GPU forms) that no iteration depends on an "
                          "earlier one of the same loop; not for deployment")),
    cl::init(ParallelOrder::Forward), cl::cat(category));

cl::opt<bool> checkBounds(
    "check-bounds",
    cl::desc("With --target=cpu: check every buffer access of the kernels "
             "and the plan against the buffer's shape as it runs; the first "
             "access out of bounds stops the program, naming the op and its "
             "kernel. For checking (with --gpu-kernel-forms, the GPU forms' "
             "accesses), not deployment"),
    cl::init(false), cl::cat(category));

enum class TilePrecision { F32, TF32, ThreeTF32 };
cl::opt<TilePrecision> tilePrecision(
    "tile-precision",
    cl::desc("The precision of the f32 tensor-core tiles (f32 linear "
             "layers' and experts' prefill tiles, the chunked delta rule's, "
             "attention's): with --target=cuda the GPU's (default tf32), "
             "with --gpu-kernel-forms the CPU's emulation of it (default "
             "f32)"),
    cl::values(clEnumValN(TilePrecision::F32, "f32",
                          "--gpu-kernel-forms only: multiplied in f32, a "
                          "check of the forms' arithmetic"),
               clEnumValN(TilePrecision::TF32, "tf32",
                          "operands rounded to tf32 as a GPU's tensor cores "
                          "take them (10 bits of mantissa)"),
               clEnumValN(TilePrecision::ThreeTF32, "3xtf32",
                          "each operand a tf32 value plus its tf32 "
                          "remainder, three products per tile: about f32's "
                          "precision for three times the tensor-core work")),
    cl::init(TilePrecision::F32), cl::cat(category));

cl::opt<std::string> cudaArch(
    "cuda-arch",
    cl::desc("GPU architecture of --target=cuda: sm_80 (A100, PTX ISA 7.0), "
             "sm_90 (H100/H200, PTX ISA 7.8; default) or sm_90a (H100/H200 "
             "only, PTX ISA 8.0: bf16 linear layers' and experts' full tiles "
             "as wgmma warpgroup products; not yet run on a GPU). With "
             "--gpu-kernel-forms: the architecture whose forms run on the "
             "CPU"),
    cl::init("sm_90"), cl::cat(category));

cl::opt<std::string> cudaPath(
    "cuda-path",
    cl::desc("CUDA toolkit whose bin/ptxas assembles the PTX into a cubin "
             "stored next to it in the artifact (default /usr/local/cuda; "
             "without ptxas there, or with an empty --cuda-path=, the "
             "artifact carries PTX only, which the "
             "driver compiles at load)"),
    cl::init("/usr/local/cuda"), cl::cat(category));

enum class EmitLevel { None, Import, Hybrid, Linalg, Kernel, LLVM, PTX };
cl::opt<EmitLevel> emit(
    "emit", cl::desc("Print the IR of a compilation stage"),
    cl::values(
        clEnumValN(EmitLevel::Import, "import",
                   "layer-level hybrid dialect as the importer wrote it, "
                   "before any pass"),
        clEnumValN(EmitLevel::Hybrid, "hybrid",
                   "layer-level hybrid dialect, after the layer passes "
                   "(hybrid-fuse-moe-routing, hybrid-tile-scans)"),
        clEnumValN(EmitLevel::Linalg, "linalg",
                   "linalg on tensors and loop nests on state buffers; "
                   "weights are function arguments"),
        clEnumValN(EmitLevel::Kernel, "kernel",
                   "the kernels and the plan that dispatches them, on "
                   "buffers, before lowering to LLVM: each top-level "
                   "parallel loop a kernel function that hybrid.dispatch "
                   "runs over workgroups (--target=cuda: gpu.func kernels "
                   "in gpu.module @hybrid_kernels, tensor-core tiles as "
                   "nvgpu and NVVM ops)"),
        clEnumValN(EmitLevel::LLVM, "llvm",
                   "LLVM IR of the CPU code (--target=cuda: of the host "
                   "plan)"),
        clEnumValN(EmitLevel::PTX, "ptx",
                   "PTX of the GPU kernels (--target=cuda)")),
    cl::init(EmitLevel::None), cl::cat(category));

cl::opt<int64_t> maxBatch(
    "max-batch",
    cl::desc("Sequences one decode call advances together (default 1): the "
             "per-sequence state buffers get a slot per sequence"),
    cl::init(1), cl::cat(category));

// Chunks of 16: on the CPU the chunked delta rule's fastest (4000 tokens,
// Qwen3-Next-shaped benchmark model: 1.3x chunks of 64, 1.15x chunks of 8),
// and on a GPU the block form's chunk buffers (44,800 bytes with
// Qwen3-Next's 128 x 128 heads) fit every GPU without opting in to more.
cl::opt<int64_t> scanChunkSize(
    "scan-chunk-size",
    cl::desc("Tokens per chunk of the Gated DeltaNet and Mamba prefill scans "
             "(hybrid-tile-scans; default 16; 0 runs them token by token; "
             "also --chunk-size). "
             "The GPU forms run Gated DeltaNet's chunks a block per "
             "(sequence, head), the chunk's buffers in the block's shared "
             "memory (up to 163 KiB on sm_80, 227 KiB on sm_90; on tensor "
             "cores for chunks of whole 16-token tiles, with heads of whole "
             "tiles), and Mamba token by token. With packed weights the CPU "
             "runs a prompt's Mamba scan a block of channels at a time, in no "
             "chunks: any size but 0 selects that form"),
    cl::init(16), cl::cat(category));
// design.md's name for it.
cl::alias chunkSize("chunk-size", cl::desc("Alias for --scan-chunk-size"),
                    cl::aliasopt(scanChunkSize), cl::cat(category));

cl::opt<int64_t> maxSeqLen(
    "max-seq-len",
    cl::desc("Positions a sequence's KV and latent caches hold (default 4096)"),
    cl::init(4096), cl::cat(category));

cl::opt<std::string> report(
    "report", cl::ValueOptional,
    cl::desc("Print parameters, FLOPs and state sizes (--report=json for "
             "machine-readable output)"),
    cl::value_desc("table|json"), cl::cat(category));

cl::opt<std::string> stateDType(
    "dtype",
    cl::desc("Element type of KV caches and conv windows: bf16, f16 or f32 "
             "(default: the checkpoint's dtype)"),
    cl::cat(category));

cl::opt<bool> printIRAfterAll("print-ir-after-all",
                              cl::desc("Print the IR after every pass"),
                              cl::cat(category));
cl::list<std::string> printIRAfter(
    "print-ir-after", cl::desc("Print the IR after the named pass"),
    cl::value_desc("pass"), cl::CommaSeparated, cl::cat(category));

int fail(const Twine &message) {
  WithColor::error(errs(), "hybridc") << message << "\n";
  return 1;
}

/// Takes the PTX out of the GPU module's binary (gpu-module-to-binary's
/// output) and removes the binary, so that the module left is the host
/// plan alone.
Expected<std::string> takePTX(ModuleOp module) {
  std::string ptx;
  for (auto binary : llvm::make_early_inc_range(module.getOps<gpu::BinaryOp>())) {
    auto objects = binary.getObjects();
    if (objects.size() != 1 || !ptx.empty())
      return createStringError("internal error: expected one GPU object");
    auto object = cast<gpu::ObjectAttr>(objects[0]);
    if (object.getFormat() != gpu::CompilationTarget::Assembly)
      return createStringError("internal error: the GPU object is not PTX");
    ptx = object.getObject().str();
    binary.erase();
  }
  module->removeAttr(gpu::GPUDialect::getContainerModuleAttrName());
  return ptx;
}

/// The cubin ptxas makes of `ptx` for `arch`; "" when --cuda-path is empty
/// or (left at its default) has no ptxas.
Expected<std::string> assemble(StringRef ptx, StringRef arch) {
  if (cudaPath.empty())
    return std::string();
  SmallString<256> ptxas(cudaPath);
  sys::path::append(ptxas, "bin", "ptxas");
  if (!sys::fs::can_execute(ptxas)) {
    if (cudaPath.getNumOccurrences())
      return createStringError("--cuda-path: no ptxas at " + ptxas);
    return std::string();
  }
  SmallString<128> input, output, log;
  for (auto [path, suffix] : {std::pair{&input, "ptx"}, {&output, "cubin"},
                              {&log, "log"}})
    if (std::error_code ec =
            sys::fs::createTemporaryFile("hybridc-kernels", suffix, *path))
      return createStringError("temporary file: " + ec.message());
  llvm::scope_exit cleanup([&] {
    for (const auto &path : {input, output, log})
      sys::fs::remove(path);
  });
  if (Error e = writeToOutput(input, [&](raw_ostream &os) {
        os << ptx;
        return Error::success();
      }))
    return std::move(e);
  std::string archFlag = ("-arch=" + arch).str();
  StringRef args[] = {ptxas, archFlag, "-O3", input, "-o", output};
  std::optional<StringRef> redirects[] = {std::nullopt, log.str(), log.str()};
  std::string message;
  int rc = sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects, 0, 0,
                               &message);
  if (rc != 0) {
    auto text = MemoryBuffer::getFile(log);
    return createStringError(ptxas + " rejected the PTX (exit " + Twine(rc) +
                             "): " + (text ? (*text)->getBuffer().trim() : message));
  }
  auto cubin = MemoryBuffer::getFile(output, /*IsText=*/false);
  if (!cubin)
    return createStringError(ptxas + ": no cubin written");
  return (*cubin)->getBuffer().str();
}

/// The arguments of every pass `pm` runs, nested pipelines' included (a
/// nested pipeline is one adaptor pass without an argument): read from its
/// textual form, e.g. `builtin.module(cse,func.func(hybrid-fuse-elementwise))`,
/// where a name before `(` anchors a nested pipeline and `{...}` holds a
/// pass's options.
std::vector<std::string> passNames(PassManager &pm) {
  std::string text;
  llvm::raw_string_ostream os(text);
  pm.printAsTextualPipeline(os);
  std::vector<std::string> names;
  std::string word;
  int braces = 0;
  for (char c : text + ",") {
    if (braces > 0) {
      braces += c == '{' ? 1 : c == '}' ? -1 : 0;
      continue;
    }
    if (c == '{' || c == ',' || c == ')') {
      if (!word.empty())
        names.push_back(word);
      word.clear();
      braces += c == '{';
    } else if (c == '(') {
      word.clear(); // an op name anchoring a nested pipeline
    } else if (!std::isspace(static_cast<unsigned char>(c))) {
      word += c;
    }
  }
  return names;
}

/// Sets up --print-ir-after(-all) on the pass managers that run one after
/// the other (an artifact's compilation stops at the linalg stage to read
/// the argument table, then goes on); fails on a pass name none has.
LogicalResult configureIRPrinting(ArrayRef<PassManager *> managers) {
  std::vector<std::string> known;
  for (PassManager *pm : managers)
    for (std::string &name : passNames(*pm))
      known.push_back(std::move(name));
  for (const std::string &name : printIRAfter)
    if (!llvm::is_contained(known, name)) {
      std::string list;
      for (const std::string &k : known)
        list += (list.empty() ? "" : ", ") + k;
      fail("--print-ir-after: no pass '" + name + "' in this pipeline (" +
           list + ")");
      return failure();
    }
  if (!printIRAfterAll && printIRAfter.empty())
    return success();
  managers.front()->getContext()->disableMultithreading();
  std::vector<std::string> selected(printIRAfter.begin(), printIRAfter.end());
  bool all = printIRAfterAll;
  for (PassManager *pm : managers)
    pm->enableIRPrinting(
        /*shouldPrintBeforePass=*/[](Pass *, Operation *) { return false; },
        /*shouldPrintAfterPass=*/
        [selected, all](Pass *pass, Operation *) {
          return all || llvm::is_contained(selected, pass->getArgument().str());
        },
        /*printModuleScope=*/true, /*printAfterOnlyOnChange=*/false,
        /*printAfterOnlyOnFailure=*/false, errs());
  return success();
}
} // namespace

int hybridc::runHybridc(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "HybridC: ahead-of-time compiler for hybrid and Mixture-of-Experts "
      "language models\n");

  bool wantReport = report.getNumOccurrences() > 0;
  if (wantReport && report != "" && report != "table" && report != "json")
    return fail("--report: expected 'table' or 'json', got '" + report + "'");
  bool wantArtifact = !wantReport && emit == EmitLevel::None;
  if (llvm::Error e = hybridc::checkCpu(cpu))
    return fail(llvm::toString(std::move(e)));
  std::string output = outputPath.empty()
                           ? (wantArtifact ? "model.hyb" : "-")
                           : outputPath.getValue();
  if (wantReport && emit != EmitLevel::None)
    return fail("--report and --emit write different outputs; give one");
  if (emit == EmitLevel::Import && (printIRAfterAll || !printIRAfter.empty()))
    return fail("--emit=import runs no pass, so there is no IR after one to "
                "print");
  if (!wantArtifact && weightsMode.getNumOccurrences())
    return fail("--weights applies to artifacts, not to --emit or --report");

  bool cuda = target == hybrid::Target::CUDA;
  if (!hybrid::isCUDAArch(cudaArch))
    return fail("--cuda-arch: expected sm_80, sm_90 or sm_90a, got '" +
                cudaArch + "'");
  if (!cuda && cudaPath.getNumOccurrences())
    return fail("--cuda-path applies to --target=cuda");
  if (!cuda && !gpuKernelForms && cudaArch.getNumOccurrences())
    return fail("--cuda-arch applies to --target=cuda and --gpu-kernel-forms");
  if (cudaPath.getNumOccurrences() && !wantArtifact)
    return fail("--cuda-path applies to artifacts (its ptxas makes their "
                "cubin), not to --emit or --report");
  if (emit == EmitLevel::PTX && !cuda)
    return fail("--emit=ptx: the CPU target has no PTX; add --target=cuda");

  if (maxSeqLen <= 0)
    return fail("--max-seq-len: must be positive, got " + Twine(maxSeqLen));
  // Far beyond any model's context; larger values would only overflow the
  // byte sizes of the caches.
  constexpr int64_t kMaxSeqLenLimit = int64_t(1) << 24;
  if (maxBatch < 1 || maxBatch > 1024)
    return fail("--max-batch: must be from 1 to 1024, got " + Twine(maxBatch));
  if (weightsMode == WeightsMode::External && packWeights.getNumOccurrences() &&
      packWeights)
    return fail("--pack-weights: packed weights are stored in the artifact; "
                "--weights=external reads the checkpoint's layout as is");
  if (parallelOrder.getNumOccurrences() && cuda)
    return fail("--parallel-order applies to --target=cpu: a GPU runs the "
                "iterations at once");
  // The kernel stage's options: artifacts and the emit levels from it on.
  bool kernelsBuilt = wantArtifact || emit == EmitLevel::Kernel ||
                      emit == EmitLevel::LLVM || emit == EmitLevel::PTX;
  if (parallelOrder.getNumOccurrences() && !kernelsBuilt)
    return fail("--parallel-order applies to artifacts and --emit=kernel|llvm");
  if (gpuKernelForms && cuda)
    return fail("--gpu-kernel-forms: --target=cuda builds those forms "
                "anyway; the flag runs them on the CPU target");
  if (checkBounds && cuda)
    return fail("--check-bounds applies to --target=cpu (its checks run on "
                "the CPU; --gpu-kernel-forms checks the GPU forms there)");
  if (checkBounds && !kernelsBuilt)
    return fail("--check-bounds applies to artifacts and --emit=kernel|llvm");
  if (tilePrecision.getNumOccurrences() && !gpuKernelForms && !cuda)
    return fail("--tile-precision applies to --target=cuda and "
                "--gpu-kernel-forms (the CPU forms have no tensor-core "
                "tiles)");
  if (tilePrecision.getNumOccurrences() && cuda &&
      tilePrecision == TilePrecision::F32)
    return fail("--tile-precision=f32: a GPU's tensor cores take f32 "
                "operands only as tf32; give tf32 (the default) or 3xtf32");
  // (With --target=cuda, --emit=llvm is the host plan's, which has no tiles.)
  if (tilePrecision.getNumOccurrences() &&
      (!kernelsBuilt || (cuda && emit == EmitLevel::LLVM)))
    return fail(Twine("--tile-precision applies to artifacts and ") +
                (cuda ? "--emit=kernel|ptx" : "--emit=kernel|llvm"));
  if (bf16Dot.getNumOccurrences() && bf16Dot) {
    if (cuda || gpuKernelForms)
      return fail("--bf16-dot applies to the CPU target's own kernels, not "
                  "to --target=cuda or --gpu-kernel-forms");
    if (!packWeights || weightsMode == WeightsMode::External)
      return fail("--bf16-dot: the dot products read weights packed in "
                  "pairs; drop --pack-weights=false and --weights=external");
    if (!hybridc::cpuHasFeature(cpu, "avx512bf16"))
      return fail("--bf16-dot: --cpu=" + cpu +
                  " has no AVX512-BF16 (--cpu native on a CPU that has it, "
                  "or a CPU name such as znver4)");
  }
  if (gpuKernelForms && (!packWeights || weightsMode == WeightsMode::External))
    return fail("--gpu-kernel-forms: the GPU forms read packed weights; drop "
                "--pack-weights=false and --weights=external");
  if (scanChunkSize < 0 || scanChunkSize > hybrid::kMaxChunkSize)
    return fail("--scan-chunk-size: must be from 0 to " +
                Twine(hybrid::kMaxChunkSize) + ", got " + Twine(scanChunkSize));
  if (maxSeqLen > kMaxSeqLenLimit)
    return fail("--max-seq-len: must be at most " + Twine(kMaxSeqLenLimit) +
                ", got " + Twine(maxSeqLen));

  mlir::registerAllPasses();
  hybrid::registerHybridPasses();
  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  // The CUDA target: #nvvm.target serialises kernels through NVPTX.
  registerGPUDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  MLIRContext context(registry);
  Expected<hybrid::hf::ImportResult> imported = hybrid::hf::importModel(
      context, modelPath, hybrid::hf::ImportOptions{stateDType});
  if (!imported)
    return fail(toString(imported.takeError()));
  if (wantArtifact && !imported->checkpoint) {
    if (llvm::sys::fs::is_directory(modelPath))
      return fail(modelPath + ": has no model.safetensors or "
                  "model.safetensors.index.json; an artifact needs the "
                  "checkpoint's weights");
    return fail(modelPath + ": an artifact needs the checkpoint's weights; "
                "give the checkpoint folder, not a bare config.json");
  }
  for (const std::string &warning : imported->warnings)
    WithColor::warning(errs(), "hybridc") << warning << "\n";
  ModuleOp module = *imported->module;

  hybrid::PipelineOptions options;
  options.maxSeqLen = maxSeqLen;
  options.maxBatch = maxBatch;
  options.scanChunkSize = scanChunkSize;
  options.fuseMoERouting = fuseMoERouting;
  options.cudaArch = cudaArch;
  options.gpuKernelForms = gpuKernelForms;
  options.reverseParallelOrder = parallelOrder == ParallelOrder::Reversed;
  if (tilePrecision.getNumOccurrences())
    options.tilePrecision = tilePrecision == TilePrecision::F32    ? "f32"
                            : tilePrecision == TilePrecision::TF32 ? "tf32"
                                                                   : "3xtf32";
  options.checkBounds = checkBounds;
  // bf16 roundings (fp8 weights' dequantized values, bf16 state and caches)
  // by the CPU's instruction where --cpu has one (AVX512-BF16 or
  // AVX-NE-CONVERT): about 10 integer instructions per vector otherwise.
  // Without it LLVM would call __truncsfbf2, which the artifact does not
  // link: the check is LLVM's own, for the CPU the code is compiled for.
  options.nativeBF16 = !cuda && (hybridc::cpuHasFeature(cpu, "avx512bf16") ||
                                 hybridc::cpuHasFeature(cpu, "avxneconvert"));
  options.packWeights = 0;
  if (packWeights && weightsMode != WeightsMode::External) {
    // A panel is 4 vectors: 6 token rows of accumulators then take 24 of
    // AVX-512's 32 registers; AVX2's 16 registers take 6 x 2 vectors.
    bool avx512 = hybridc::cpuHasFeature(cpu, "avx512f");
    options.packWeights = avx512 ? 64 : 16;
    // On a GPU a panel row is read by neighbouring threads: 32 f32 outputs
    // are one 128-byte transaction.
    if (cuda || gpuKernelForms)
      options.packWeights = 32;
  }
  // bf16 linear layers two inputs at a time by AVX512-BF16's dot product
  // where --cpu has it (packed weights, the CPU's own forms): twice the
  // multiply-adds of f32 FMAs an instruction.
  options.bf16Dot = bf16Dot && options.packWeights > 0 && !cuda &&
                    !gpuKernelForms && hybridc::cpuHasFeature(cpu, "avx512bf16");
  hybrid::Stage stage = emit == EmitLevel::LLVM || emit == EmitLevel::PTX
                            ? hybrid::Stage::LLVM
                        : emit == EmitLevel::Kernel ? hybrid::Stage::Kernel
                        : emit == EmitLevel::Linalg ? hybrid::Stage::Linalg
                        : wantArtifact              ? hybrid::Stage::Linalg
                                                    : hybrid::Stage::Hybrid;
  hybridc::ModelReport summary = hybridc::computeReport(module);
  PassManager pm(&context);
  if (failed(hybrid::buildPipeline(pm, target, options, stage)))
    return fail("internal error: the pass pipeline does not parse");
  // An artifact's compilation goes on past the linalg stage (below).
  PassManager rest(&context);
  if (wantArtifact && failed(hybrid::buildPipeline(rest, target, options,
                                                   hybrid::Stage::LLVM,
                                                   hybrid::Stage::Kernel)))
    return fail("internal error: the pass pipeline does not parse");
  SmallVector<PassManager *, 2> managers = {&pm};
  if (wantArtifact)
    managers.push_back(&rest);
  if (failed(configureIRPrinting(managers)))
    return 1;
  // The passes' warnings (e.g. a chunk size the tensor cores do not take)
  // reach the user, which MLIR's default handler would drop; errors print
  // as before.
  ScopedDiagnosticHandler passWarnings(&context, [](Diagnostic &diagnostic) {
    if (diagnostic.getSeverity() != mlir::DiagnosticSeverity::Warning)
      return failure();
    llvm::errs() << diagnostic.getLocation() << ": warning: " << diagnostic
                 << "\n";
    return success();
  });
  if (emit != EmitLevel::Import && failed(pm.run(module)))
    return fail("the compilation pipeline failed on " + modelPath);

  std::optional<hybridc::Artifact> artifact;
  if (wantArtifact) {
    // The argument table is read at the linalg stage, where arguments still
    // say which state or weight they are; then the lowering continues.
    auto arguments = hybridc::readEntryArguments(module);
    if (!arguments)
      return fail(toString(arguments.takeError()));
    if (failed(rest.run(module)))
      return fail("the compilation pipeline failed on " + modelPath);
    hybridc::ArtifactOptions artifactOptions;
    if (cuda) {
      auto ptx = takePTX(module);
      if (!ptx)
        return fail(modelPath + ": " + toString(ptx.takeError()));
      auto cubin = assemble(*ptx, cudaArch);
      if (!cubin)
        return fail(modelPath + ": " + toString(cubin.takeError()));
      // An empty --cuda-path asked for PTX only: no note.
      if (cubin->empty() && !cudaPath.empty())
        WithColor::note(errs(), "hybridc")
            << "no ptxas in " << cudaPath
            << "/bin: the artifact carries PTX only (the driver compiles it "
               "at load)\n";
      artifactOptions.cudaArch = cudaArch;
      artifactOptions.programmaticLaunch =
          hybrid::hasGridDependencyControl(cudaArch);
      artifactOptions.ptx = std::move(*ptx);
      artifactOptions.cubin = std::move(*cubin);
    }
    artifactOptions.cpu = cpu;
    artifactOptions.modelType = summary.modelType;
    artifactOptions.vocab = summary.vocab;
    artifactOptions.hidden = summary.hidden;
    artifactOptions.layers = static_cast<int64_t>(summary.layers.size());
    artifactOptions.maxSeqLen = maxSeqLen;
    artifactOptions.maxBatch = maxBatch;
    if (weightsMode == WeightsMode::External) {
      SmallString<256> folder(modelPath);
      if (std::error_code ec = llvm::sys::fs::make_absolute(folder))
        return fail(modelPath + ": " + ec.message());
      llvm::sys::path::remove_dots(folder, /*remove_dot_dot=*/true);
      artifactOptions.externalWeights = true;
      artifactOptions.weightsDir = folder.str().str();
    }
    auto built = hybridc::buildArtifact(module, *arguments,
                                        *imported->checkpoint, artifactOptions);
    if (!built)
      return fail(modelPath + ": " + toString(built.takeError()));
    artifact = std::move(*built);
  }

  std::string ptx;
  if (cuda && (emit == EmitLevel::LLVM || emit == EmitLevel::PTX)) {
    auto taken = takePTX(module);
    if (!taken)
      return fail(modelPath + ": " + toString(taken.takeError()));
    ptx = std::move(*taken);
  }

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule;
  if (emit == EmitLevel::LLVM) {
    llvmModule = translateModuleToLLVMIR(module, llvmContext);
    if (!llvmModule)
      return fail("translating " + modelPath + " to LLVM IR failed");
  }

  // Written to a temporary file and renamed: never a partial output.
  Error written = writeToOutput(output, [&](raw_ostream &os) -> Error {
    if (wantArtifact) {
      return artifact->write(os);
    } else if (wantReport) {
      const hybridc::ModelReport &r = summary;
      if (report == "json")
        hybridc::printReportJson(r, os);
      else
        hybridc::printReportTable(r, os);
    } else if (emit == EmitLevel::PTX) {
      os << ptx;
    } else if (llvmModule) {
      llvmModule->print(os, nullptr);
    } else {
      module.print(os);
      os << "\n";
    }
    return Error::success();
  });
  if (written)
    // The error's own text quotes the path again; keep only the reason.
    return fail(output + ": " +
                llvm::errorToErrorCode(std::move(written)).message());
  return 0;
}
