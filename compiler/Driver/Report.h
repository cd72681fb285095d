//===- Report.h - Parameter, FLOP and state report of a model ---*- C++ -*-===//
//
// Everything here is read back from the imported hybrid IR: the weights'
// shapes (the same ones checked against the checkpoint), the ops that use
// them and the state types of @forward. There is no second model of the
// architecture to keep in sync.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRIDC_COMPILER_DRIVER_REPORT_H
#define HYBRIDC_COMPILER_DRIVER_REPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace hybridc {

struct LayerReport {
  int64_t index = 0;
  std::string mixer; // attention | mla | gated_delta_net | mamba
  std::string ffn;   // mlp | moe
  int64_t params = 0;
  int64_t paramsActive = 0;
  int64_t stateBytes = 0;      // per sequence
  int64_t kvBytesPerToken = 0; // per cached position
};

struct ModelReport {
  std::string modelType;
  int64_t hidden = 0, vocab = 0;
  /// Main model, MTP excluded.
  int64_t paramsTotal = 0;
  /// Everything outside the routed experts (embedding and head included)
  /// plus top_k routed experts per MoE layer.
  int64_t paramsActive = 0;
  /// paramsActive without the embedding table and the LM head.
  int64_t paramsActiveNonEmbedding = 0;
  /// Parameters of the MTP module that the main model does not have.
  int64_t paramsMtp = 0;
  /// 2 x (paramsActive - embedding table): one multiply-add per weight used,
  /// at zero context. Attention adds flopsPerTokenPerPosition per cached
  /// position.
  int64_t flopsPerToken = 0;
  int64_t attentionFlopsPerTokenPerPosition = 0;
  int64_t stateBytesPerSeq = 0;
  int64_t kvBytesPerToken = 0;
  std::vector<LayerReport> layers;
};

ModelReport computeReport(mlir::ModuleOp module);
void printReportTable(const ModelReport &report, llvm::raw_ostream &os);
void printReportJson(const ModelReport &report, llvm::raw_ostream &os);

} // namespace hybridc

#endif // HYBRIDC_COMPILER_DRIVER_REPORT_H
