//===- Report.cpp - Parameter, FLOP and state report of a model -*- C++ -*-===//

#include "compiler/Driver/Report.h"

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"

using namespace mlir;
using namespace hybrid;
using namespace hybridc;

namespace {
int64_t numElements(Type type) {
  int64_t n = 1;
  for (int64_t d : cast<RankedTensorType>(type).getShape())
    n *= d;
  return n;
}

/// The decoder layer index of a `model.layers.N.`-prefixed name, or -1.
int64_t layerOf(StringRef name) {
  if (!name.consume_front("model.layers."))
    return -1;
  int64_t index;
  StringRef digits = name.take_while([](char c) { return llvm::isDigit(c); });
  if (digits.empty() || digits.getAsInteger(10, index))
    return -1;
  return index;
}

int64_t layerOf(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return layerOf(name.getName().getValue());
  return -1;
}

/// The weight op behind a value, looking through dequantization.
WeightOp weightBehind(Value value) {
  if (auto dq = value.getDefiningOp<DequantizeOp>())
    value = dq.getQuantized();
  return value.getDefiningOp<WeightOp>();
}

/// Parameters of one function: unique tensors, and the fraction of each
/// that a token uses.
struct WeightUse {
  int64_t params = 0;
  double activeFraction = 1.0;
  bool embedding = false, head = false;
  int64_t layer = -1;
};

llvm::StringMap<WeightUse> collectWeights(func::FuncOp func) {
  llvm::StringMap<WeightUse> uses;
  llvm::DenseSet<Operation *> scales;
  func.walk([&](DequantizeOp op) {
    if (WeightOp scale = op.getScaleInv().getDefiningOp<WeightOp>())
      scales.insert(scale);
  });
  func.walk([&](WeightOp op) {
    if (scales.contains(op))
      return; // quantization scales are not parameters
    WeightUse &use = uses[op.getName()];
    use.params = numElements(op.getType());
    use.layer = layerOf(op.getName());
  });
  auto mark = [&](Value value, auto &&update) {
    if (WeightOp op = weightBehind(value))
      update(uses[op.getName()]);
  };
  func.walk([&](Operation *op) {
    if (auto embed = dyn_cast<EmbedOp>(op))
      mark(embed.getTable(), [](WeightUse &u) { u.embedding = true; });
    if (auto head = dyn_cast<LMHeadOp>(op))
      mark(head.getWeight(), [](WeightUse &u) { u.head = true; });
    if (auto moe = dyn_cast<MoEOp>(op)) {
      double fraction = static_cast<double>(moe.getTopK()) /
                        static_cast<double>(moe.getNumExperts());
      for (Value v : {moe.getExpertsGate(), moe.getExpertsUp(),
                      moe.getExpertsDown()})
        mark(v, [&](WeightUse &u) { u.activeFraction = fraction; });
    }
  });
  return uses;
}

int64_t activeParams(const WeightUse &use) {
  return static_cast<int64_t>(
      std::llround(static_cast<double>(use.params) * use.activeFraction));
}

LayerReport &layerEntry(std::vector<LayerReport> &layers, int64_t index) {
  if (index >= static_cast<int64_t>(layers.size()))
    layers.resize(index + 1);
  layers[index].index = index;
  return layers[index];
}

/// Multiply-adds per cached position, for one token's query.
int64_t attentionFlopsPerPosition(Operation *op) {
  if (auto attn = dyn_cast<AttentionOp>(op))
    return 2 * 2 * attn.getNumHeads() * attn.getHeadDim();
  if (auto mla = dyn_cast<MLAOp>(op))
    // Absorbed form: scores over (latent + rope), values over the latent.
    return 2 * mla.getNumHeads() *
           (2 * mla.getKvLoraRank() + mla.getQkRopeHeadDim());
  return 0;
}
} // namespace

ModelReport hybridc::computeReport(ModuleOp module) {
  ModelReport report;
  if (auto type = module->getAttrOfType<StringAttr>("hybrid.model_type"))
    report.modelType = type.str();
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return report;

  llvm::StringMap<WeightUse> weights = collectWeights(forward);
  for (auto &entry : weights) {
    const WeightUse &use = entry.getValue();
    int64_t active = activeParams(use);
    report.paramsTotal += use.params;
    report.paramsActive += active;
    if (!use.embedding && !use.head)
      report.paramsActiveNonEmbedding += active;
    // A lookup costs no FLOPs; a head tied to the embedding still does.
    if (!use.embedding || use.head)
      report.flopsPerToken += 2 * active;
    if (use.layer >= 0) {
      LayerReport &layer = layerEntry(report.layers, use.layer);
      layer.params += use.params;
      layer.paramsActive += active;
    }
  }

  forward.walk([&](Operation *op) {
    int64_t layer = layerOf(op->getLoc());
    if (auto embed = dyn_cast<EmbedOp>(op)) {
      auto table = cast<RankedTensorType>(embed.getTable().getType());
      report.vocab = table.getDimSize(0);
      report.hidden = table.getDimSize(1);
    }
    report.attentionFlopsPerTokenPerPosition += attentionFlopsPerPosition(op);
    if (layer < 0)
      return;
    StringRef mixer = llvm::TypeSwitch<Operation *, StringRef>(op)
                          .Case<AttentionOp>([](auto) { return "attention"; })
                          .Case<MLAOp>([](auto) { return "mla"; })
                          .Case<GatedDeltaNetOp>(
                              [](auto) { return "gated_delta_net"; })
                          .Case<MambaOp>([](auto) { return "mamba"; })
                          .Default([](auto) { return ""; });
    if (!mixer.empty())
      layerEntry(report.layers, layer).mixer = mixer.str();
    if (isa<MLPOp>(op))
      layerEntry(report.layers, layer).ffn = "mlp";
    if (isa<MoEOp>(op))
      layerEntry(report.layers, layer).ffn = "moe";
  });

  for (BlockArgument arg : forward.getArguments()) {
    auto name = forward.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                     "hybrid.state");
    int64_t layer = name ? layerOf(name.getValue()) : -1;
    int64_t state = 0, kv = 0;
    if (auto t = dyn_cast<ConvStateType>(arg.getType()))
      state = t.getBytes();
    else if (auto t = dyn_cast<RecurrentStateType>(arg.getType()))
      state = t.getBytes();
    else if (auto t = dyn_cast<KVCacheType>(arg.getType()))
      kv = t.getBytes();
    else if (auto t = dyn_cast<LatentCacheType>(arg.getType()))
      kv = t.getBytes();
    report.stateBytesPerSeq += state;
    report.kvBytesPerToken += kv;
    if (layer >= 0) {
      layerEntry(report.layers, layer).stateBytes += state;
      layerEntry(report.layers, layer).kvBytesPerToken += kv;
    }
  }

  if (auto mtp = module.lookupSymbol<func::FuncOp>("mtp"))
    for (auto &entry : collectWeights(mtp))
      if (!weights.count(entry.getKey()))
        report.paramsMtp += entry.getValue().params;
  return report;
}

namespace {
/// 79.67 B, 12.50 M, or the exact count for tiny models.
std::string count(int64_t n) {
  if (n >= 1000000000)
    return llvm::formatv("{0:F2} B", static_cast<double>(n) / 1e9).str();
  if (n >= 1000000)
    return llvm::formatv("{0:F2} M", static_cast<double>(n) / 1e6).str();
  return std::to_string(n);
}

std::string bytes(int64_t n) {
  if (n >= (1 << 20))
    return llvm::formatv("{0:F2} MiB", static_cast<double>(n) / (1 << 20)).str();
  if (n >= (1 << 10))
    return llvm::formatv("{0:F2} KiB", static_cast<double>(n) / (1 << 10)).str();
  return llvm::formatv("{0} B", n).str();
}
} // namespace

void hybridc::printReportTable(const ModelReport &r, llvm::raw_ostream &os) {
  os << r.modelType << ": " << r.layers.size() << " layers, hidden "
     << r.hidden << ", vocab " << r.vocab << "\n\n";
  auto row = [&](StringRef label, const std::string &value) {
    os << "  " << llvm::left_justify(label, 40) << value << "\n";
  };
  row("parameters (main model)", count(r.paramsTotal));
  row("active per token", count(r.paramsActive));
  row("active per token, w/o embedding & head",
      count(r.paramsActiveNonEmbedding));
  row("MTP module", count(r.paramsMtp));
  row("FLOPs per token (2 x active, no embed)", count(r.flopsPerToken));
  row("+ attention FLOPs per cached position",
      llvm::formatv("{0}", r.attentionFlopsPerTokenPerPosition).str());
  row("recurrent + conv state per sequence", bytes(r.stateBytesPerSeq));
  row("KV cache per token", bytes(r.kvBytesPerToken));

  os << "\n  " << llvm::left_justify("layers", 10)
     << llvm::left_justify("mixer", 17) << llvm::left_justify("ffn", 6)
     << llvm::left_justify("params each", 14)
     << llvm::left_justify("active each", 14) << "state each\n";
  // Runs of identical layers share a row.
  for (size_t i = 0; i < r.layers.size();) {
    const LayerReport &l = r.layers[i];
    size_t j = i + 1;
    while (j < r.layers.size() && r.layers[j].mixer == l.mixer &&
           r.layers[j].ffn == l.ffn && r.layers[j].params == l.params)
      ++j;
    std::string span = j - i == 1 ? std::to_string(i)
                                  : llvm::formatv("{0}-{1}", i, j - 1).str();
    std::string state = l.kvBytesPerToken
                            ? bytes(l.kvBytesPerToken) + "/token"
                            : bytes(l.stateBytes);
    os << "  " << llvm::left_justify(span, 10)
       << llvm::left_justify(l.mixer, 17) << llvm::left_justify(l.ffn, 6)
       << llvm::left_justify(count(l.params), 14)
       << llvm::left_justify(count(l.paramsActive), 14) << state << "\n";
    i = j;
  }
}

void hybridc::printReportJson(const ModelReport &r, llvm::raw_ostream &os) {
  llvm::json::Array layers;
  for (const LayerReport &l : r.layers)
    layers.push_back(llvm::json::Object{
        {"index", l.index},
        {"mixer", l.mixer},
        {"ffn", l.ffn},
        {"params", l.params},
        {"params_active", l.paramsActive},
        {"state_bytes_per_seq", l.stateBytes},
        {"kv_bytes_per_token", l.kvBytesPerToken}});
  llvm::json::Object root{
      {"model_type", r.modelType},
      {"hidden_size", r.hidden},
      {"vocab_size", r.vocab},
      {"params_total", r.paramsTotal},
      {"params_active", r.paramsActive},
      {"params_active_non_embedding", r.paramsActiveNonEmbedding},
      {"params_mtp", r.paramsMtp},
      {"flops_per_token", r.flopsPerToken},
      {"attention_flops_per_token_per_position",
       r.attentionFlopsPerTokenPerPosition},
      {"state_bytes_per_seq", r.stateBytesPerSeq},
      {"kv_bytes_per_token", r.kvBytesPerToken},
      {"layers", std::move(layers)}};
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
}
