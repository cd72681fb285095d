//===- WeightBinding.cpp - Check the IR's weights against a checkpoint ----===//

#include "frontends/HF/WeightBinding.h"

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace hybrid;
using namespace hybrid::hf;

namespace {
llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// The MLIR element type of a float safetensors dtype, or null.
Type elementType(DType dtype, MLIRContext *context) {
  switch (dtype) {
  case DType::BF16:
    return BFloat16Type::get(context);
  case DType::F16:
    return Float16Type::get(context);
  case DType::F32:
    return Float32Type::get(context);
  case DType::F8E4M3:
    return Float8E4M3FNType::get(context);
  default:
    return {};
  }
}

/// True when `op` holds the block scales of a `hybrid.dequantize`.
bool isBlockScale(WeightOp op) {
  return llvm::any_of(op->getUsers(), [&](Operation *user) {
    auto dequantize = dyn_cast<DequantizeOp>(user);
    return dequantize && dequantize.getScaleInv() == op.getResult();
  });
}

/// Checks that `dtype` can stand where the IR expects `expected`.
std::optional<std::string> dtypeProblem(DType dtype, Type expected,
                                        bool blockScale) {
  // The lowering reads fp8 block scales as f32, as DeepSeek stores them.
  if (blockScale)
    return dtype == DType::F32
               ? std::nullopt
               : std::optional<std::string>(
                     "expected F32 (fp8 block scales, weight_scale_inv)");
  if (isa<Float8E4M3FNType>(expected))
    return dtype == DType::F8E4M3
               ? std::nullopt
               : std::optional<std::string>(
                     "expected F8_E4M3 (config.json quantization_config)");
  if (dtype == DType::BF16 || dtype == DType::F16 || dtype == DType::F32)
    return std::nullopt;
  return "expected a float weight (BF16, F16 or F32)";
}

/// Names of the tensors a weight op stands for.
SmallVector<std::string> tensorNames(WeightOp op) {
  SmallVector<std::string> names;
  int64_t count = op.getExperts().value_or(1);
  for (int64_t e = 0; e < count; ++e)
    names.push_back(op.getTensorName(e));
  return names;
}
} // namespace

llvm::Error hybrid::hf::bindWeights(ModuleOp module,
                                    const Checkpoint &checkpoint,
                                    std::vector<std::string> &warnings) {
  StringRef where = checkpoint.description();

  // MTP tensors are not saved by transformers: drop @mtp when none of its
  // own tensors is in the checkpoint.
  llvm::StringSet<> forwardTensors;
  if (auto forward = module.lookupSymbol<func::FuncOp>("forward"))
    forward.walk([&](WeightOp op) {
      for (const std::string &name : tensorNames(op))
        forwardTensors.insert(name);
    });
  if (auto mtp = module.lookupSymbol<func::FuncOp>("mtp")) {
    bool anyPresent = false;
    std::string example;
    mtp.walk([&](WeightOp op) {
      for (const std::string &name : tensorNames(op)) {
        if (forwardTensors.contains(name))
          continue;
        if (example.empty())
          example = name;
        anyPresent |= checkpoint.find(name) != nullptr;
      }
    });
    if (!anyPresent) {
      warnings.push_back((where + ": config.json declares an MTP module but "
                                  "the checkpoint has none of its tensors "
                                  "(e.g. '" +
                          example + "'); MTP omitted")
                             .str());
      mtp.erase();
    }
  }

  llvm::StringSet<> used;
  SmallVector<std::string> missing;
  std::optional<std::string> firstProblem;
  MLIRContext *context = module.getContext();
  module.walk([&](WeightOp op) {
    auto type = cast<RankedTensorType>(op.getType());
    ArrayRef<int64_t> expected = type.getShape();
    if (op.getExperts())
      expected = expected.drop_front();
    std::optional<DType> dtype;
    bool blockScale = isBlockScale(op);
    for (const std::string &name : tensorNames(op)) {
      used.insert(name);
      const TensorInfo *info = checkpoint.find(name);
      if (!info) {
        missing.push_back(name + " " + shapeString(expected));
        continue;
      }
      if (firstProblem)
        continue;
      if (ArrayRef<int64_t>(info->shape) != expected) {
        firstProblem = info->file + ": tensor '" + name + "' has shape " +
                       shapeString(info->shape) + ", but config.json implies " +
                       shapeString(expected);
        continue;
      }
      if (std::optional<std::string> problem =
              dtypeProblem(info->dtype, type.getElementType(), blockScale)) {
        firstProblem = info->file + ": tensor '" + name + "' has dtype " +
                       dtypeName(info->dtype).str() + ", " + *problem;
        continue;
      }
      if (dtype && *dtype != info->dtype) {
        firstProblem = info->file + ": tensor '" + name + "' has dtype " +
                       dtypeName(info->dtype).str() +
                       " but the other experts of '" + op.getName().str() +
                       "' have " + dtypeName(*dtype).str();
        continue;
      }
      dtype = info->dtype;
    }
    if (dtype)
      op.getResult().setType(RankedTensorType::get(
          type.getShape(), elementType(*dtype, context)));
  });

  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size() && i < 5; ++i)
      list += "\n  " + missing[i];
    if (missing.size() > 5)
      list += "\n  ... and " + std::to_string(missing.size() - 5) + " more";
    return makeError(where + ": missing " + llvm::Twine(missing.size()) +
                     " tensor" + (missing.size() == 1 ? "" : "s") +
                     " that config.json implies:" + list);
  }
  if (firstProblem)
    return makeError(*firstProblem);

  SmallVector<std::string> unused;
  for (const std::string &name : checkpoint.names())
    if (!used.contains(name))
      unused.push_back(name);
  if (!unused.empty()) {
    std::string list;
    for (size_t i = 0; i < unused.size() && i < 8; ++i)
      list += (i ? ", " : "") + unused[i];
    if (unused.size() > 8)
      list += ", ... and " + std::to_string(unused.size() - 8) + " more";
    warnings.push_back((where + ": " + llvm::Twine(unused.size()) +
                        " tensor" + (unused.size() == 1 ? "" : "s") +
                        " not used by the model: " + list)
                           .str());
  }
  return llvm::Error::success();
}
