//===- DispatchUtils.h - what the plan passes know of kernels --*- C++ -*-===//
//
// Shared by the passes that join a plan's dispatches into fewer launches
// (hybrid-merge-dispatches, hybrid-chain-dispatches): which kernel a
// dispatch runs, how a GPU would run it, the scratch it takes, and which of
// the plan's ops may move above an earlier dispatch.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRIDC_PASSES_DISPATCHUTILS_H
#define HYBRIDC_PASSES_DISPATCHUTILS_H

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace hybrid {

/// The `hybrid.kernel` function of one block that `dispatch` runs, or null
/// (a kernel already in the GPU module, or one the passes do not know).
mlir::func::FuncOp dispatchedKernel(DispatchOp dispatch,
                                    mlir::SymbolTable &symbols);

/// The buffer `value` is a view of (through subviews, casts, reshapes),
/// or itself.
mlir::Value rootBuffer(mlir::Value value);

/// The buffers a dispatch reads and writes, as the plan's root buffers
/// (what views view), and the globals its kernel writes (a GEMV's arrival
/// counts). A kernel's use of an argument is known from its ops' memory
/// effects; any other use counts as a read and a write.
struct Accesses {
  llvm::SmallPtrSet<mlir::Value, 8> reads, writes;
  llvm::SmallDenseSet<llvm::StringRef, 2> globals;

  /// Whether the two dispatches must run one after the other. Two forms
  /// of linear layers (kRowFormAttr on both: `rowForms`) that both write a
  /// buffer neither reads write different rows of it: that alone does not
  /// order them.
  bool conflictsWith(const Accesses &other, bool rowForms) const;
};
Accesses accessesOf(DispatchOp dispatch, mlir::func::FuncOp kernel);

/// How hybrid-kernels-to-gpu runs a kernel's workgroups: a thread each, or
/// a block each (cooperative loops), or a block each whose warps run
/// tensor-core tiles (warps loops).
enum class KernelKind { Thread, Block, Warps };
KernelKind kindOf(mlir::func::FuncOp kernel);

/// Bytes of the static scratch at the kernel's entry (a block kernel's
/// shared buffers are among them, each 16-byte aligned) and of its block
/// reductions: an upper bound of what hybrid-kernels-to-gpu gives it.
int64_t scratchBytes(mlir::func::FuncOp kernel);

/// The name of a kernel made of `first` and `second`: the first's, then
/// `joiner`, then what the second's adds to the part of the names they
/// share (e.g. forward__model_layers_0_mlp__gate_gemv__and__gate_proj_up_gemv).
std::string joinedName(llvm::StringRef first, llvm::StringRef second,
                       llvm::StringRef joiner);

/// A kernel made of two dispatches' kernels (hybrid-merge-dispatches,
/// hybrid-chain-dispatches): a private `hybrid.kernel` function (begin,
/// end, operands...) with an empty entry block, named joinedName(first's,
/// second's, joiner) and placed before the first's kernel, whose operands
/// are `leading`, then both dispatches' kernel operands, each once.
struct JoinedKernel {
  mlir::func::FuncOp func;
  llvm::SmallVector<mlir::Value> operands;
  llvm::DenseMap<mlir::Value, mlir::BlockArgument> argumentFor;

  mlir::Value begin() { return func.getArgument(0); }
  mlir::Value end() { return func.getArgument(1); }
  /// The argument that `operand` of the plan is passed as.
  mlir::Value argument(mlir::Value operand) const {
    return argumentFor.lookup(operand);
  }
  /// Clones the body of `dispatch`'s kernel (but its return) at `at`, for
  /// workgroups [begin, end).
  void inlineBody(mlir::OpBuilder &at, DispatchOp dispatch,
                  mlir::func::FuncOp kernel, mlir::Value begin,
                  mlir::Value end) const;
};
JoinedKernel joinKernels(mlir::SymbolTable &symbols, DispatchOp first,
                         mlir::func::FuncOp firstKernel, DispatchOp second,
                         mlir::func::FuncOp secondKernel,
                         mlir::ArrayRef<mlir::Value> leading,
                         llvm::StringRef joiner);

/// The most workgroups a kernel's tail runs, one after another
/// (hybrid-chain-dispatches): a workgroup of a norm or a router is a few
/// block reductions, about what a launch costs.
constexpr int64_t kTailWorkgroups = 2;

/// Marks the dispatch of a kernel whose small counts run in the tail of
/// the kernel before it (hybrid-chain-dispatches): it launches only for
/// large counts (a prompt's), so no tail is chained onto it.
constexpr llvm::StringLiteral kRemainderAttr = "hybrid.tail_remainder";

/// Whether a workgroup count the plan computes as `count` may be 1 to
/// kTailWorkgroups at run time, from the constants it is built of: a
/// GEMV's count (select(few, panels * splits, 0)) may not, a count of
/// tokens may.
bool maybeSmall(mlir::Value count);

/// The most workgroups a count the plan computes as `count` can be, from
/// its constants, whatever the call's rows: 1 for the MoE grouping's
/// min(rows, 1) (and what a tail leaves of it); none for a count of rows.
std::optional<int64_t> countBound(mlir::Value count);

/// Whether `op`, between two dispatches of the plan, may move above the
/// earlier one or stay between them unordered: an allocation, a free or
/// an op free of memory effects (index arithmetic).
bool planOnly(mlir::Operation *op);

/// Whether the plan's ops between `first` and `second` that `second`'s
/// operands need are allocations or free of memory effects (collected
/// into `ops`, in order), so that they can move above `first`.
bool hoistableAbove(DispatchOp second, DispatchOp first,
                    llvm::SmallVector<mlir::Operation *> &ops);

} // namespace hybrid

#endif // HYBRIDC_PASSES_DISPATCHUTILS_H
