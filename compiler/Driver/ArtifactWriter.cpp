//===- ArtifactWriter.cpp - Native code and the .hyb artifact -------------===//
//
// The LLVM dialect module becomes LLVM IR with a packed entry point
// (`void hybrid_forward(void **arguments, void *result)`, so the runtime can
// call a signature it only knows from the artifact's table), is optimised
// and compiled for the chosen x86-64 level, linked by ld.lld into a shared
// object, and stored with the argument table and the weights.
//
//===----------------------------------------------------------------------===//

#include "compiler/Driver/ArtifactWriter.h"

#include "runtime/schemas/artifact_format.h"
#include "runtime/schemas/artifact_generated.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"

#include <cstring>
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <functional>
#include <map>

using namespace mlir;
using namespace hybridc;
namespace fa = hybrid::artifact;

namespace {
constexpr const char *kEntry = "hybrid_forward";

llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}

std::optional<fa::ElementType> elementType(Type type) {
  if (type.isF32())
    return fa::ElementType::F32;
  if (type.isF16())
    return fa::ElementType::F16;
  if (type.isBF16())
    return fa::ElementType::BF16;
  if (isa<Float8E4M3FNType>(type))
    return fa::ElementType::F8E4M3FN;
  if (type.isInteger(64))
    return fa::ElementType::I64;
  return std::nullopt;
}

/// void hybrid_forward(void **arguments, void *result): loads every
/// parameter of @forward through arguments[i] and stores its result.
llvm::Error addPackedEntry(llvm::Module &module) {
  llvm::Function *forward = module.getFunction("forward");
  if (!forward)
    return error("internal error: no @forward in the LLVM module");
  llvm::LLVMContext &ctx = module.getContext();
  auto *ptr = llvm::PointerType::getUnqual(ctx);
  auto *type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr, ptr},
                                       /*isVarArg=*/false);
  auto *entry = llvm::Function::Create(type, llvm::Function::ExternalLinkage,
                                       kEntry, module);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", entry));
  llvm::SmallVector<llvm::Value *> args;
  for (llvm::Argument &param : forward->args()) {
    llvm::Value *slotAddress =
        b.CreateConstGEP1_64(ptr, entry->getArg(0), param.getArgNo());
    llvm::Value *slot = b.CreateLoad(ptr, slotAddress);
    args.push_back(b.CreateLoad(param.getType(), slot));
  }
  llvm::Value *result = b.CreateCall(forward, args);
  b.CreateStore(result, entry->getArg(1));
  b.CreateRetVoid();
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
targetMachine(const std::string &cpuOption) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple("x86_64-unknown-linux-gnu");
  std::string message;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, message);
  if (!target)
    return error("no x86-64 backend in this LLVM: " + message);
  std::string cpu = cpuOption;
  // native: this machine's CPU and the features it reports (as clang's
  // -march=native), not only those its model implies: a VM may hide some.
  std::string features;
  if (cpuOption == "native") {
    cpu = llvm::sys::getHostCPUName().str();
    for (const auto &feature : llvm::sys::getHostCPUFeatures())
      features += (features.empty() ? "" : ",") +
                  std::string(feature.getValue() ? "+" : "-") + feature.getKey().str();
  }
  // Checked first: LLVM would otherwise warn and compile for a generic CPU.
  std::unique_ptr<llvm::MCSubtargetInfo> generic(
      target->createMCSubtargetInfo(triple, "x86-64", ""));
  if (!generic || !generic->isCPUStringValid(cpu))
    return error("--cpu: LLVM knows no x86-64 CPU '" + cpu + "'");
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, cpu, features, options, llvm::Reloc::PIC_, std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
  if (!machine)
    return error("--cpu: LLVM knows no x86-64 CPU '" + cpu + "'");
  return machine;
}

} // namespace

llvm::Error hybridc::checkCpu(const std::string &cpu) {
  auto machine = targetMachine(cpu);
  if (!machine)
    return machine.takeError();
  // The CPU kernels are vectorised for AVX2 and FMA at least (x86-64-v3).
  const llvm::MCSubtargetInfo &info = *(*machine)->getMCSubtargetInfo();
  if (!info.checkFeatures("+avx2,+fma"))
    return error("--cpu: " + cpu + " has no AVX2 and FMA, which HybridC's CPU "
                 "code needs (x86-64-v3 or later)");
  return llvm::Error::success();
}

bool hybridc::cpuHasFeature(const std::string &cpu, const std::string &feature) {
  auto machine = targetMachine(cpu);
  if (!machine) {
    llvm::consumeError(machine.takeError());
    return false;
  }
  return (*machine)->getMCSubtargetInfo()->checkFeatures("+" + feature);
}

namespace {
/// Optimises `module` at O3 and returns its object code.
llvm::Expected<std::string> compile(llvm::Module &module,
                                    llvm::TargetMachine &machine) {
  module.setTargetTriple(machine.getTargetTriple());
  module.setDataLayout(machine.createDataLayout());
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder builder(&machine);
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cgam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cgam, mam);
  builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3)
      .run(module, mam);

  llvm::SmallString<0> object;
  llvm::raw_svector_ostream os(object);
  llvm::legacy::PassManager pm;
  if (machine.addPassesToEmitFile(pm, os, nullptr,
                                  llvm::CodeGenFileType::ObjectFile))
    return error("LLVM cannot emit an object file for this target");
  pm.run(module);
  return std::string(object.str());
}

/// Links one object into a shared object with ld.lld.
llvm::Expected<std::string> link(llvm::StringRef object) {
  llvm::ErrorOr<std::string> lld = llvm::sys::findProgramByName(
      "ld.lld", {HYBRIDC_LLVM_TOOLS_DIR});
  if (!lld)
    lld = llvm::sys::findProgramByName("ld.lld-22");
  if (!lld)
    return error("ld.lld not found (install lld-22)");
  llvm::SmallString<128> objectPath, libraryPath;
  if (auto ec = llvm::sys::fs::createTemporaryFile("hybridc", "o", objectPath))
    return error("cannot create a temporary file: " + ec.message());
  if (auto ec = llvm::sys::fs::createTemporaryFile("hybridc", "so", libraryPath))
    return error("cannot create a temporary file: " + ec.message());
  llvm::scope_exit cleanup([&] {
    llvm::sys::fs::remove(objectPath);
    llvm::sys::fs::remove(libraryPath);
  });
  {
    std::error_code ec;
    llvm::raw_fd_ostream out(objectPath, ec);
    if (ec)
      return error("cannot write " + objectPath + ": " + ec.message());
    out << object;
  }
  llvm::StringRef args[] = {*lld, "-shared", "--as-needed", "-o",
                            libraryPath, objectPath};
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(*lld, args, std::nullopt, {}, 0, 0,
                                     &message);
  if (rc != 0)
    return error("ld.lld failed" + (message.empty() ? "" : ": " + message));
  auto library = llvm::MemoryBuffer::getFile(libraryPath);
  if (!library)
    return error("cannot read " + libraryPath);
  return (*library)->getBuffer().str();
}
} // namespace

namespace {
/// The bytes of the [out, in] matrix `info` packed in panels of
/// `arg.packed` rows, [ceil(out / panel), in, panel], rows past `out` zero:
/// the layout of hybrid.weight packed(panel); with `arg.pairs`
/// [ceil(out / panel), ceil(in / 2), 2 * panel] (packed(panel) pairs).
llvm::Expected<uint64_t> packedBytes(const EntryArgument &arg,
                                     const hybrid::hf::TensorInfo &info) {
  int64_t panel = arg.packed, group = arg.pairs ? 2 : 1;
  // [panels, K, panel], behind the expert dimension of a stacked weight
  // (then `info` is one expert's tensor).
  size_t rank = arg.experts ? 4 : 3;
  const int64_t *packedShape = arg.shape.data() + rank - 3;
  if (info.shape.size() != 2 || arg.shape.size() != rank ||
      packedShape[0] != llvm::divideCeilSigned(info.shape[0], panel) ||
      packedShape[1] != llvm::divideCeilSigned(info.shape[1], group) ||
      packedShape[2] != group * panel || info.shape[0] * info.shape[1] == 0)
    return error("internal error: packed weight '" + arg.name +
                 "' does not match its checkpoint tensor's shape");
  uint64_t element = info.size / (info.shape[0] * info.shape[1]);
  return packedShape[0] * packedShape[1] * packedShape[2] * element;
}

/// Streams `bytes`, the [out, in] matrix `info`, packed as packedBytes
/// says, a panel at a time.
void writePacked(const std::function<void(llvm::StringRef)> &emit,
                 const EntryArgument &arg, const hybrid::hf::TensorInfo &info,
                 llvm::StringRef bytes) {
  uint64_t panel = arg.packed, out = info.shape[0], in = info.shape[1];
  uint64_t group = arg.pairs ? 2 : 1, depth = llvm::divideCeil(in, group);
  uint64_t element = bytes.size() / (out * in);
  std::string buffer;
  for (uint64_t first = 0; first < out; first += panel) {
    buffer.assign(depth * group * panel * element, '\0');
    for (uint64_t j = 0; j < panel && first + j < out; ++j) {
      const char *src = bytes.data() + (first + j) * in * element;
      // Input k of row j at [k / group, group * j + k % group].
      for (uint64_t k = 0; k < in; ++k)
        std::memcpy(buffer.data() +
                        ((k / group * panel + j) * group + k % group) * element,
                    src + k * element, element);
    }
    emit(buffer);
  }
}
} // namespace

llvm::Expected<std::vector<EntryArgument>>
hybridc::readEntryArguments(ModuleOp module) {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return error("internal error: no @forward");
  std::vector<EntryArgument> result;
  for (BlockArgument arg : forward.getArguments()) {
    unsigned i = arg.getArgNumber();
    EntryArgument entry;
    auto shaped = dyn_cast<ShapedType>(arg.getType());
    if (!shaped)
      return error("internal error: @forward argument " + llvm::Twine(i) +
                   " is not shaped");
    entry.elementType = shaped.getElementType();
    for (int64_t d : shaped.getShape())
      entry.shape.push_back(ShapedType::isDynamic(d) ? -1 : d);
    if (auto name = forward.getArgAttrOfType<StringAttr>(i, "hybrid.state")) {
      entry.kind = EntryArgument::State;
      entry.name = name.str();
    } else if (auto name =
                   forward.getArgAttrOfType<StringAttr>(i, "hybrid.weight")) {
      entry.kind = EntryArgument::Weight;
      entry.name = name.str();
      if (auto experts =
              forward.getArgAttrOfType<IntegerAttr>(i, "hybrid.experts"))
        entry.experts = experts.getInt();
      if (auto packed = forward.getArgAttrOfType<IntegerAttr>(i, "hybrid.packed"))
        entry.packed = packed.getInt();
      entry.pairs = bool(forward.getArgAttr(i, "hybrid.packed_pairs"));
    } else if (forward.getArgAttr(i, "hybrid.slots")) {
      entry.kind = EntryArgument::Slots;
      entry.name = "slots";
    } else if (forward.getArgAttr(i, "hybrid.sequences")) {
      entry.kind = EntryArgument::Sequences;
      entry.name = "sequences";
    } else if (forward.getArgAttr(i, "hybrid.call_start")) {
      entry.kind = EntryArgument::CallStart;
      entry.name = "call_start";
    } else if (forward.getArgAttr(i, "hybrid.logit_rows")) {
      entry.kind = EntryArgument::LogitRows;
      entry.name = "logit_rows";
    } else if (i < 2) {
      entry.kind = i == 0 ? EntryArgument::Tokens : EntryArgument::Positions;
      entry.name = i == 0 ? "tokens" : "positions";
    } else {
      return error("internal error: @forward argument " + llvm::Twine(i) +
                   " is neither state nor weight");
    }
    result.push_back(std::move(entry));
  }
  return result;
}

llvm::Expected<Artifact>
hybridc::buildArtifact(ModuleOp module, const std::vector<EntryArgument> &arguments,
                       const hybrid::hf::Checkpoint &checkpoint,
                       const ArtifactOptions &options) {
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, context);
  if (!llvmModule)
    return error("translating to LLVM IR failed");
  if (llvm::Error e = addPackedEntry(*llvmModule))
    return std::move(e);
  auto machine = targetMachine(options.cpu);
  if (!machine)
    return machine.takeError();
  auto object = compile(*llvmModule, **machine);
  if (!object)
    return object.takeError();
  auto library = link(*object);
  if (!library)
    return library.takeError();

  // Embedded: each weight 64-byte aligned in the weights section, written
  // after the flatbuffer (Artifact::write). External: per tensor, its file
  // and byte range.
  Artifact artifact;
  artifact.checkpoint = &checkpoint;
  uint64_t weightsSize = 0;
  std::vector<std::pair<uint64_t, uint64_t>> placement(arguments.size());
  std::vector<std::vector<const hybrid::hf::TensorInfo *>> tensors(
      arguments.size());
  for (size_t i = 0; i < arguments.size(); ++i) {
    const EntryArgument &arg = arguments[i];
    if (arg.kind != EntryArgument::Weight)
      continue;
    int64_t count = arg.experts ? arg.experts : 1;
    for (int64_t e = 0; e < count; ++e) {
      std::string name = arg.name;
      if (arg.experts)
        name.replace(name.find("{e}"), 3, std::to_string(e));
      const hybrid::hf::TensorInfo *info = checkpoint.find(name);
      if (!info)
        return error("internal error: tensor '" + name + "' vanished");
      tensors[i].push_back(info);
    }
    if (options.externalWeights) {
      if (arg.packed)
        return error("internal error: packed weight '" + arg.name +
                     "' in an artifact with external weights");
      continue;
    }
    uint64_t start = llvm::alignTo(weightsSize, 64);
    weightsSize = start;
    for (const hybrid::hf::TensorInfo *info : tensors[i]) {
      if (!arg.packed) {
        weightsSize += info->size;
        continue;
      }
      llvm::Expected<uint64_t> bytes = packedBytes(arg, *info);
      if (!bytes)
        return bytes.takeError();
      weightsSize += *bytes;
    }
    placement[i] = {start, weightsSize - start};
    artifact.weights.push_back({arg, tensors[i], start, weightsSize - start});
  }

  flatbuffers::FlatBufferBuilder fbb(library->size() + options.ptx.size() +
                                     options.cubin.size() + 65536);
  // External weights: the files, by name inside the checkpoint folder.
  std::vector<flatbuffers::Offset<fa::WeightFile>> files;
  std::map<std::string, uint32_t> fileIndex;
  if (options.externalWeights) {
    for (const auto &file : checkpoint.files()) {
      llvm::StringRef bytes = file->contents();
      uint64_t headerEnd = 8 + file->header().size();
      fileIndex[file->path().str()] = files.size();
      files.push_back(fa::CreateWeightFileDirect(
          fbb, llvm::sys::path::filename(file->path()).str().c_str(),
          bytes.size(),
          fa::bytesChecksum(reinterpret_cast<const uint8_t *>(bytes.data()),
                            headerEnd)));
    }
  }
  std::vector<flatbuffers::Offset<fa::Argument>> table;
  for (size_t i = 0; i < arguments.size(); ++i) {
    const EntryArgument &arg = arguments[i];
    std::optional<fa::ElementType> type = elementType(arg.elementType);
    if (!type)
      return error("internal error: no artifact element type for argument '" +
                   arg.name + "'");
    fa::ArgumentKind kind = arg.kind == EntryArgument::Tokens ? fa::ArgumentKind::Tokens
                            : arg.kind == EntryArgument::Positions
                                ? fa::ArgumentKind::Positions
                            : arg.kind == EntryArgument::State ? fa::ArgumentKind::State
                            : arg.kind == EntryArgument::Slots ? fa::ArgumentKind::Slots
                            : arg.kind == EntryArgument::LogitRows
                                ? fa::ArgumentKind::LogitRows
                            : arg.kind == EntryArgument::Sequences
                                ? fa::ArgumentKind::Sequences
                            : arg.kind == EntryArgument::CallStart
                                ? fa::ArgumentKind::CallStart
                                : fa::ArgumentKind::Weight;
    std::vector<int64_t> shape(arg.shape.begin(), arg.shape.end());
    std::vector<flatbuffers::Offset<fa::WeightPiece>> pieces;
    if (options.externalWeights)
      for (const hybrid::hf::TensorInfo *info : tensors[i])
        pieces.push_back(fa::CreateWeightPieceDirect(
            fbb, info->name.c_str(), fileIndex.at(info->file), info->offset,
            info->size));
    table.push_back(fa::CreateArgumentDirect(
        fbb, kind, arg.name.c_str(), *type, &shape, arg.experts,
        placement[i].first, placement[i].second,
        options.externalWeights ? &pieces : nullptr));
  }
  auto tableOffset = fbb.CreateVector(table);
  fbb.ForceVectorAlignment(library->size(), 1, 16);
  auto libraryOffset = fbb.CreateVector(
      reinterpret_cast<const uint8_t *>(library->data()), library->size());
  // What the code may use, for the runtime to check before it runs any.
  std::vector<flatbuffers::Offset<flatbuffers::String>> cpuFeatures;
  const llvm::MCSubtargetInfo &subtarget = *(*machine)->getMCSubtargetInfo();
  for (const char *feature : fa::kCpuFeatures)
    if (subtarget.checkFeatures(std::string("+") + feature))
      cpuFeatures.push_back(fbb.CreateString(feature));
  auto executable = fa::CreateExecutable(
      fbb, fbb.CreateString("elf-x86_64-so"),
      fbb.CreateString((*machine)->getTargetCPU().str()),
      fbb.CreateString(kEntry), libraryOffset, fbb.CreateVector(cpuFeatures));
  auto config = fa::CreateModelConfigDirect(fbb, options.modelType.c_str(),
                                            options.vocab, options.hidden,
                                            options.layers, options.maxSeqLen,
                                            options.maxBatch);
  flatbuffers::Offset<flatbuffers::String> weightsDir;
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fa::WeightFile>>>
      weightFiles;
  if (options.externalWeights) {
    weightsDir = fbb.CreateString(options.weightsDir);
    weightFiles = fbb.CreateVector(files);
  }
  flatbuffers::Offset<fa::CudaKernels> cuda;
  if (!options.cudaArch.empty()) {
    flatbuffers::Offset<flatbuffers::Vector<uint8_t>> cubin;
    if (!options.cubin.empty()) {
      fbb.ForceVectorAlignment(options.cubin.size(), 1, 16);
      cubin = fbb.CreateVector(
          reinterpret_cast<const uint8_t *>(options.cubin.data()),
          options.cubin.size());
    }
    cuda = fa::CreateCudaKernels(fbb, fbb.CreateString(options.cudaArch),
                                 fbb.CreateString(options.ptx), cubin,
                                 options.programmaticLaunch);
  }
  // The weights section's offset depends on the flatbuffer's size: a
  // placeholder, filled in once that is known.
  fa::WeightsSection placeholder(0, weightsSize);
  auto root = fa::CreateArtifact(fbb, fa::kArtifactVersion, config, tableOffset,
                                 executable, &placeholder, weightsDir,
                                 weightFiles, cuda);
  fa::FinishSizePrefixedArtifactBuffer(fbb, root);
  artifact.flatbuffer.assign(reinterpret_cast<const char *>(fbb.GetBufferPointer()),
                             fbb.GetSize());
  auto *bytes = reinterpret_cast<uint8_t *>(artifact.flatbuffer.data());
  size_t field = reinterpret_cast<const uint8_t *>(
                     fa::GetSizePrefixedArtifact(bytes)->weights()) - bytes;
  artifact.weightsOffset =
      llvm::alignTo(artifact.flatbuffer.size(), fa::kWeightsAlignment);
  // Little-endian, as flatbuffers.
  std::memcpy(bytes + field, &artifact.weightsOffset, 8);
  return artifact;
}

llvm::Error Artifact::write(llvm::raw_ostream &os) const {
  fa::ArtifactChecksummer checksummer;
  uint64_t at = 0;
  auto emit = [&](llvm::StringRef bytes) {
    checksummer.update(reinterpret_cast<const uint8_t *>(bytes.data()),
                       bytes.size());
    os << bytes;
    at += bytes.size();
  };
  auto zerosUpTo = [&](uint64_t end) {
    static const char zeros[4096] = {};
    while (at < end)
      emit(llvm::StringRef(zeros, std::min<uint64_t>(end - at, sizeof(zeros))));
  };
  emit(flatbuffer);
  for (const EmbeddedWeight &weight : weights) {
    zerosUpTo(weightsOffset + weight.offset);
    for (const hybrid::hf::TensorInfo *info : weight.tensors) {
      llvm::StringRef bytes = checkpoint->bytes(*info);
      if (weight.arg.packed)
        writePacked(emit, weight.arg, *info, bytes);
      else
        emit(bytes);
    }
    if (at != weightsOffset + weight.offset + weight.size)
      return error("internal error: weight '" + weight.arg.name +
                   "' wrote other than the bytes its table entry says");
  }
  zerosUpTo(weightsOffset); // no weights: the section is empty
  uint64_t checksum = checksummer.finish(); // little-endian, as on x86-64
  os.write(reinterpret_cast<const char *>(&checksum), sizeof(checksum));
  return llvm::Error::success();
}
