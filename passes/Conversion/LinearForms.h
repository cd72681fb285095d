//===- LinearForms.h - the linear layers' forms, shared with MoE -*- C++ -*-===//
//
// The pieces of the linear layers' forms (Linear.cpp) that the grouped
// experts (MoE.cpp) and the other lowerings of convert-hybrid-to-linalg
// build on: packed and fp8 weights, the CPU panel form, the GEMV form and
// the tensor-core (mma) form's staging. linear() and its variants are in
// HybridToLinalgLowering.h.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRIDC_PASSES_CONVERSION_LINEARFORMS_H
#define HYBRIDC_PASSES_CONVERSION_LINEARFORMS_H

#include "passes/Conversion/HybridToLinalgLowering.h"

namespace hybrid::lowering {

/// x[at] as f32, rounded to `roundTo` first when that is given and
/// narrower than x's elements: a linear layer's row past the tensor cores'
/// tiles reads x as the tiles take it (see mmaInput).
Value readRounded(OpBuilder &b, Location loc, Value x, ValueRange at,
                  Type roundTo);

/// DequantizeLowering's kernel carries the block of its scales under this
/// name, so that the kernels that read the weight (packed: packableSource;
/// in the checkpoint's layout: RowMajorWeight::of) find the fp8 tensors
/// behind it and decode them as they load them; the kernel, then unused,
/// is dropped by canonicalize.
constexpr StringLiteral kDequantizedBlockAttr = "hybrid.dequantized_block";

/// fp8 e4m3fn bits (`raw`: f8E4M3FN, or a vector of them) as f32, exactly
/// (LLVM has no f8 type to extend from): the 7 bits below the sign put at
/// f32's bits 20..26 are the value times 2^-120 (an fp8 subnormal an f32
/// subnormal, which IEEE arithmetic keeps), the sign goes to bit 31, and
/// S.1111.111 is NaN (e4m3fn has no infinities). Sign-extending the byte
/// first puts both in place with one shift and one mask (its copies of the
/// sign fill bits 27..31).
Value decodeFP8E4M3FN(OpBuilder &b, Location loc, Value raw);

/// A checkpoint weight that the packed forms can read (packable): the
/// tensor, and for an fp8 block-quantized weight its block scales, whose
/// blocks of blockRows x blockCols hold whole panels. `element` is the
/// weight's type as the layer sees it (hybrid.dequantize's result, to
/// which the dequantized weights round).
struct PackableWeight {
  WeightOp weight, scale;
  int64_t blockRows = 0, blockCols = 0;
  Type element;

  /// The checkpoint tensor's type, [lead..., out, in].
  RankedTensorType type() const { return WeightOp(weight).getType(); }
};

/// A packable weight in panels: `data` [lead..., panels, in, panel] of the
/// checkpoint's element (hybrid.weight packed(panel); the artifact writer
/// packs the bytes) and, for fp8, the block scales [lead..., out blocks, in
/// blocks] as stored.
struct PackedWeight : RowMajorWeight {
  /// Packed in pairs of inputs (hybrid.weight packed(panel) pairs): `data`
  /// [lead..., panels, in / 2, 2 * panel], read by readPairs only.
  bool pairs = false;

  Type stored() const {
    return cast<ShapedType>(data.getType()).getElementType();
  }
  int64_t panel() const {
    int64_t row = cast<ShapedType>(data.getType()).getShape().back();
    return pairs ? row / 2 : row;
  }
  /// Panel row [lead..., p, i, 0 .. 2 * panel) of a weight in pairs: the
  /// panel's weights of inputs 2i and 2i + 1, as stored (bf16).
  Value readPairs(OpBuilder &b, Location loc, ValueRange at) const;
  /// The weights at [lead..., p, k, j .. j + width) as vector<width x f32>
  /// (an f32 for width 0), fp8 decoded, scaled and rounded to `element`.
  Value read(OpBuilder &b, Location loc, ValueRange at, int64_t width) const {
    size_t n = at.size();
    if (!scale)
      return readScaled(b, loc, at, width, n - 3, {}, {});
    return readScaled(b, loc, at, width, n - 3, firstRow(b, loc, at), at[n - 2]);
  }
  /// The output row of panel p's first row (`at` = [lead..., p, k, j]):
  /// the panel's rows share its block row of scales.
  Value firstRow(OpBuilder &b, Location loc, ValueRange at) const {
    return arith::MulIOp::create(b, loc, at[at.size() - 3],
                                 arith::ConstantIndexOp::create(b, loc, panel()));
  }
  /// The order of a panel row's lanes in which readPanel decodes this
  /// weight (lane q of its vector is the row's lane lanes[q]); empty for
  /// the row's own order (read()).
  SmallVector<int64_t> panelLanes() const;
  /// Panel row [lead..., p, k, 0 .. panel) as vector<panel x f32>, its lanes
  /// in panelLanes()' order: fp8 rounded to bf16 (or f32) then takes about
  /// four fifths of read()'s instructions (see the definition).
  Value readPanel(OpBuilder &b, Location loc, ValueRange at) const;
};

/// The lane order of the CPU panel form's panel rows of `weights`, which
/// it reads together (one per weight and input): readPanel's where all of
/// them decode alike (PackedWeight::panelLanes), else their own (read()).
/// The sums of such rows are in that order until restore().
struct PanelOrder {
  SmallVector<int64_t> lanes, inverse;

  static PanelOrder of(ArrayRef<PackedWeight> weights);
  /// Panel row `at` ([lead..., p, k, 0]) of `w` in this order.
  Value read(OpBuilder &b, Location loc, const PackedWeight &w, ValueRange at) const;
  /// `sums` (a vector<panel>) put back in the panel's order.
  Value restore(OpBuilder &b, Location loc, Value sums) const;
};

/// The packed copy of a packable weight `[lead..., out, in]`: panels of
/// `panel` output rows (see PackedWeight), in pairs of inputs with `pairs`.
PackedWeight packedCopy(OpBuilder &b, const PackableWeight &source, int64_t panel,
                        bool pairs = false);

/// Whether the CPU panel form multiplies `weights` (the linear layers of
/// one input) in pairs of inputs by AVX512-BF16's dot product
/// (Codegen::bf16Dot): all stored as bf16, an even number of inputs.
bool bf16PairsFit(const Codegen &codegen, ArrayRef<PackableWeight> weights);

/// The inputs 2i and 2i + 1 of row `row` of xb ([row..., in]; f32 rounded
/// to bf16 as read) in every 32-bit lane of a vector<32xbf16>: the x
/// operand of AVX512-BF16's dot product, whose products of one lane sum
/// these two with that lane's pair of weights.
Value pairSplat(OpBuilder &b, Location loc, Value xb, ValueRange row, Value i);

/// acc + the dot products of a pair of bf16 inputs in every 32-bit lane of
/// `pairs` (pairSplat's) with a row of bf16 pairs (vector<2n x bf16>, a
/// pair per lane of acc: vector<n x f32>): AVX512-BF16's dot product per
/// 16 lanes.
Value dotPairs(OpBuilder &b, Location loc, Value pairs, Value row, Value acc);

/// x [tokens, in] (f32) rounded to bf16 into a buffer by a kernel of its
/// own, a workgroup per row, named `stage`_bf16_input: the full tiles' input
/// of weights in pairs (bf16PairsFit). A call of fewer tokens than a tile
/// has none (decode): no workgroup then, its rows round x as they read it.
/// (A kernel of one workgroup runs on the calling thread; between two
/// parallel kernels it kept the executor's workers waiting long enough to
/// sleep: decode 10 % slower.)
Value bf16Input(OpBuilder &b, Location loc, Value x, StringRef stage);

/// The checkpoint tensors behind a linear layer's weight `w` (a stack of
/// experts' when `experts`) if the packed forms can read them: a
/// hybrid.weight not yet packed, or the fp8 tensors of a dequantize kernel
/// (kDequantizedBlockAttr) whose block rows hold whole panels.
std::optional<PackableWeight> packableSource(const Codegen &codegen, Value w,
                                             bool experts);

/// Whether packable weights `a` and `b` can share a packed kernel: one
/// stored and one dequantized element type, one block.
bool packAlike(const PackableWeight &a, const PackableWeight &b);

/// Combines a row's accumulators, one vector<panel> per weight, into what
/// is stored for that row.
using PanelEpilogue =
    llvm::function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// Where a tile row's sums of the first weight wait while panelProducts
/// runs the second weight's loop: a vector<panel> at `at` of `buffer`,
/// written and read back masked unless `inBounds`.
struct ParkedSums {
  Value buffer;
  SmallVector<Value> at;
  bool inBounds;
};

/// The CPU panel form's outer products: from the accumulators `init`
/// (rowCount rows, row-major over the `weights` weights), per input k in
/// [kBegin, kEnd) weight w's panel at k (panelAt(k, w): a vector<panel x
/// f32>, in `order`) and one broadcast FMA per (row, weight), xAt(m, k)
/// row m's input k as f32. Returns the sums put back in order, row-major
/// over the weights. Up to kPackedTokens accumulator vectors go in one
/// loop over k; more (two weights: SwiGLU's gate and up), in a loop per
/// weight, row m's first-weight sums parked in parkAt(m) between the loops
/// (memory the caller owns, e.g. the row's own output; null where it
/// cannot be needed). Each output's sum runs over k in order either way.
/// Weights in pairs go by pairs of inputs: panelAt(i, w) a panel row of
/// readPairs, xAt(m, i) row m's inputs 2i and 2i + 1 in bf16 in every
/// 32-bit lane of a vector<32xbf16>, a dot product per 16 lanes of the
/// accumulators.
SmallVector<Value> panelProducts(ImplicitLocOpBuilder &b, const PanelOrder &order,
                                 int64_t rowCount, int64_t weights, ValueRange init,
                                 Value kBegin, Value kEnd,
                                 function_ref<Value(Value, int64_t)> panelAt,
                                 function_ref<Value(int64_t, Value)> xAt,
                                 function_ref<ParkedSums(int64_t)> parkAt);

/// One workgroup of a packed linear kernel: panel `p` of the weights
/// `packed` (all [panels, in, panel]) applied to the tokens of
/// tile `tileIndex` (tiles of `tileTokens`), epilogue(accumulators) stored
/// into y[token, p * panel ..] (masked past `out`). A full tile keeps
/// tileTokens vector<panel> accumulators per weight (panelProducts: a loop
/// per weight past kPackedTokens, the first weight's sums parked in y):
/// per input column, one vector load of the weight's panel and one
/// broadcast FMA per token (outer products). Other tiles (decode's single
/// token) run the same loop one token at a time, all weights together.
/// Each output is a sum over the inputs in order, the same in every tile
/// shape. Weights in pairs read the full tiles' x from `rounded`
/// (bf16Input's) and the other rows' from x, rounded to bf16 as read.
void packedWorkgroup(OpBuilder &pb, Location pl, int64_t panel, Value x,
                     ArrayRef<PackedWeight> packed, int64_t out, int64_t in,
                     int64_t tileTokens, Value tokens, Value y,
                     PanelEpilogue epilogue, Value p, Value tileIndex,
                     Value rounded = {});

/// The inputs of a row of the CPU panel form: inputsOf(row), called once
/// per row of a tile before the loop over the inputs (where the row's
/// inputs are is loaded there), gives the function that reads its input k
/// as f32.
using RowInputs = function_ref<std::function<Value(Value)>(Value)>;

/// Token tiles that share each staged chunk: its decoding is then an eighth
/// of what each tile decoding its own weights costs.
constexpr int64_t kStagedTiles = 8;

/// The CPU panel form's rows [first, end) (at most kStagedTiles tiles of
/// `tileTokens`; full tiles, then one row at a time) for weights that are
/// decoded as read (fp8, PackedWeight::read): each chunk of kStageDepth
/// inputs of panel p (of the weights at `lead`, e.g. an expert) is decoded
/// once into `stage` ([weights, kStageDepth, panel] of the dequantized
/// type), which every tile then multiplies as plain packed weights; the
/// sums wait in `sums` ([kStagedTiles * tileTokens, weights, panel] f32)
/// between chunks. Each output is the same sum over the inputs in order as
/// packedWorkgroup's. finish(row, sums) stores a row's results.
void stagedPanelRows(ImplicitLocOpBuilder &b, LoopNest &loops,
                     ArrayRef<PackedWeight> packed, ValueRange lead, Value p,
                     int64_t in, int64_t tileTokens, Value stage, Value sums,
                     Value first, Value end, RowInputs inputsOf,
                     function_ref<void(Value, ValueRange)> finish);

/// Whether the packed weights `packed` are all decoded as read (fp8) into
/// one dequantized type: the CPU panel form then stages them
/// (stagedPanelRows).
bool decodedAsRead(ArrayRef<PackedWeight> packed);

/// The scratch of stagedPanelRows for `weights` weights like `like`, rows
/// in tiles of `tileTokens`: {stage, sums}.
std::pair<Value, Value> stagedPanelScratch(LoopNest &loops, const PackedWeight &like,
                                           int64_t weights, int64_t tileTokens);

/// The staged group of rows from `first`: its end (kStagedTiles tiles of
/// `tileTokens` rows, at most `limit`) and whether it holds more than one
/// tile (stagedPanelRows then; a tile alone reads its weights directly).
std::pair<Value, Value> stagedGroup(ImplicitLocOpBuilder &b, LoopNest &loops,
                                    Value first, Value limit, int64_t tileTokens);

/// Tokens per workgroup of the column form: scalar accumulators, one per
/// (token, weight); each weight element loaded serves them all.
constexpr int64_t kColumnTokens = 8;

/// An scf.parallel over [0, ubs[0]) x [0, ubs[1]) x ... that is one of the
/// forms of a linear layer, which writes rows of its output that the
/// layer's other forms do not (marked kRowFormAttr). Dimensions of one
/// iteration are left out (`body` gets 0 for them): canonicalize would
/// drop them by rebuilding the loop, without the mark.
scf::ParallelOp
rowFormLoop(OpBuilder &b, Location loc, ValueRange ubs,
            function_ref<void(OpBuilder &, Location, ValueRange)> body);

/// The GEMV form's shape for weights [out, in] of `element` packed in
/// panels of `panel`: elements per 16-byte load, loads per panel row,
/// slices of a split's inputs, splits. Empty where it does not apply (a
/// panel row not whole loads that divide a block; inputs not whole
/// slices).
struct GemvShape {
  int64_t width, loads, slices, splits;
};

std::optional<GemvShape> gemvShape(const Codegen &codegen, Type element,
                                   int64_t panels, int64_t in);

/// Whether a call's `rows` (past the tensor cores' tiles) take the GEMV
/// form: 1 to kGemvRows of them. None (a prompt of whole tiles) launches
/// neither form.
Value gemvTakes(ImplicitLocOpBuilder &b, Value rows);

/// One GEMV workgroup's part for panel `p` of the weights `packed` (read
/// at [lead..., p, k, j]) and the inputs of split `split`: for each row of
/// [rowBegin, rowEnd), whose inputs xAt(row, k) gives, a thread per
/// (slice of the split's inputs, 16-byte load of the panel's row) sums its
/// slice into `sliceSums` [weights * slices, panel], then a thread per
/// (weight, column) sums the slices into sums[sumsRow(row), weight, split,
/// p * panel + column]. The last of the panel's workgroups (unit `unit` of
/// `counts`, null for one split: lastOfSplits) then gives finish(row, p *
/// panel + column, the sums over the splits as vector<1>, one per weight)
/// for each row and each column of the panel below `out` (the last panel's
/// columns past it are padding).
void gemvPanelSums(ImplicitLocOpBuilder &b, LoopNest &loops,
                   const GemvShape &shape, int64_t panel, int64_t out, int64_t in,
                   ArrayRef<PackedWeight> packed, ValueRange lead,
                   Value p, Value split, Value rowBegin, Value rowEnd,
                   function_ref<Value(Value, Value)> xAt, Value sliceSums,
                   Value sums, function_ref<Value(Value)> sumsRow,
                   memref::GlobalOp counts, Value unit,
                   function_ref<void(Value, Value, ArrayRef<Value>)> finish);

/// The tensor cores' operand type for weights of `element`: bf16 weights
/// multiply bf16 activations (bf16 m16n8k16); others run on f32 tiles
/// (tf32 m16n8k8; f16 weights are widened, as f16 activations could
/// overflow).
Type mmaOperandType(Type element);

/// The mma form's staged tiles of one kernel: for each step of `depth`
/// inputs, the workgroup's `rowTiles` token tiles of x [rowTiles *
/// kMmaTokens, depth] and kBlockWarps panels of each weight [depth,
/// kBlockWarps * panel], rows padded, in the tensor cores' operand type;
/// kMmaStageSlots of each, one after another in the rows. Scratch at the
/// function's entry, shared by the workgroup's warps (GPU shared memory).
/// With `warpgroup` (warpgroupFits) the tiles are 8x8 core matrices
/// instead of padded rows, as hybrid.warpgroup_mma reads them: x's [slot
/// and row / 8, input / 8, 8, 8], each weight's [slot and input / 8,
/// output / 8, 8, 8].
struct MmaStage {
  Type type;
  int64_t depth, rowTiles;
  bool warpgroup;
  Value x;
  SmallVector<Value> weights;
};

/// Whether the mma form of weights of `element` may take the warpgroup
/// form (Codegen::warpgroup): bf16 tiles whose kBlockWarps panels make a
/// valid wgmma N (a multiple of 8, at most 256).
bool warpgroupFits(const Codegen &codegen, Type element);

/// The staged tiles (scratch) of an mma kernel of `weights` weights [out,
/// in] of `element` in panels of `panel`, workgroups of `rowTiles` token
/// tiles; core matrices for the warpgroup form.
MmaStage mmaStage(OpBuilder &b, Location loc, Type element, int64_t in,
                  int64_t panel, int64_t weights, int64_t rowTiles,
                  bool warpgroup = false);

/// One workgroup of the mma form (Codegen::mma), a block of kBlockWarps
/// warps: ys[i][t0 .. t0 + stage.rowTiles * kMmaTokens, panel group *
/// kBlockWarps + w] = x w_i^T for the token tiles from t0 that are inside
/// the full tiles [0, rows), warp w taking one panel of the weights
/// `packed` (all [lead..., panels, in, panel] of one element type, read at
/// the indices `lead`, e.g. an expert's). For each step of inputs the
/// block copies x's tiles and its panels of every weight into a slot of
/// `stage` (cooperative loops, 16 or 32 bytes per copy), then each warp
/// runs kMmaTokens x kMmaOutputs x mmaDepth vector.contract tiles from the
/// slot, accumulators carried over the steps. The copies of step i + 1 go
/// to the other slot before the warps multiply step i's, marked
/// kPrefetchAttr: on a GPU they are in flight (cp.async) while the tensor
/// cores work, with one barrier per step. Panels past the last, and
/// token tiles past `rows` (x's rows read as row rows - 1), are computed
/// but not stored, so that every warp takes part in the copies.
void mmaWorkgroup(OpBuilder &pb, Location pl, const MmaStage &stage,
                  int64_t panel, Value x, ArrayRef<PackedWeight> packed,
                  int64_t out, int64_t in, ArrayRef<Value> ys, Value group,
                  Value t0, Value rows, ValueRange lead = {});

/// x's first `rows` rows (of [tokens, in]: the full tiles') as the mma
/// form stages them, for tiles of `stageType`: bf16 tiles take x rounded
/// to bf16 once, by a kernel before (`stage`_mma_input), so that each
/// workgroup of the mma kernel copies half the bytes and converts nothing
/// (cp.async on a GPU) instead of rounding x as it stages it; f32 tiles
/// take x as it is. The layer's rows past the full tiles (GEMV and column
/// forms) read x rounded the same way as they read it (readRounded): a
/// token's outputs do not depend on whether its call's rows filled a tile
/// (one prompt, the same prompt split, decode steps), and a decode step,
/// which fills none, launches no rounding kernel.
Value mmaInput(OpBuilder &b, Location loc, Value x, Value rows, Type stageType,
               StringRef stage);

/// Whether linear layers [out, in] of `element` (`weights` of them sharing
/// each tile of x, workgroups of `rowTiles` token tiles) take the mma form.
bool mmaFits(const Codegen &codegen, int64_t out, int64_t in, Type element,
             int64_t weights, int64_t rowTiles);

/// Token tiles of the grouped experts' mma workgroups: one tile table
/// (groups of an expert's full tiles) serves both projections, so both
/// take the gate/up pair's; with warpgroup products (Codegen::warpgroup)
/// the warpgroup's 64 rows, a token tile per warp.
int64_t mmaExpertRowTiles(const Codegen &codegen);

/// A kernel's output buffer as the tensor the lowering returns.
Value asTensor(OpBuilder &b, Location loc, Value buffer);

/// silu(gate) * up, elementwise over [tokens, intermediate].
Value swiglu(OpBuilder &b, Location loc, Value like, Value gate, Value up);

/// silu(x gate^T) * (x up^T). With packed weights both projections and the
/// activation are one kernel: each token tile applies the gate and up panels
/// together (half the tokens per tile, to keep the accumulators in
/// registers) and stores only the activation.
Value swigluProjections(OpBuilder &b, Location loc, const Codegen &codegen,
                        Value x, Value gate, Value up);

} // namespace hybrid::lowering

#endif // HYBRIDC_PASSES_CONVERSION_LINEARFORMS_H
