//===- Passes.td - HybridC passes ---------------------------*- tablegen -*-===//
//
// Every transform and conversion of HybridC is declared here; `hybrid-opt`
// and `hybridc` register them all through registerHybridPasses().
//
//===----------------------------------------------------------------------===//

#ifndef HYBRIDC_PASSES_PASSES_TD
#define HYBRIDC_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertHybridToLinalgPass : Pass<"convert-hybrid-to-linalg", "::mlir::ModuleOp"> {
  let summary = "Lower stateless layer-level hybrid ops to linalg on tensors";
  let description = [{
    Rewrites `hybrid.embed`, `hybrid.rms_norm` (all three kinds),
    `hybrid.mlp`'s activation and `hybrid.dequantize` (fp8 e4m3fn
    decoded from its bits, exactly) into `linalg.generic` ops on tensors
    that compute in f32 (weights of any float type are extended inside the
    loop bodies). Weight operands stay `hybrid.weight` values: binding them
    to buffers is dispatch formation's job. `hybrid.mtp` (the MTP input
    projection) folds its concatenation into the contraction.

    With `pack-weights=NR`, a linear layer whose weight is a checkpoint
    tensor (`hybrid.weight`) reads a packed copy of it instead,
    `hybrid.weight "..." packed(NR) : tensor<ceil(out/NR) x in x NR>`, and
    becomes a parallel loop over (panel of NR outputs, tile of 6 tokens):
    per input column one vector<NR> load of the panel and one broadcast FMA
    per token into 6 vector<NR> accumulators (outer products; decode's
    single token runs the same loop for one row). The artifact writer packs
    the bytes. Run `hybrid-weights-to-arguments` after this pass.
    With `pack-weights` and without `column-workgroups` (the CPU's vector
    forms), a function with `hybrid.mla` gets a trailing `call_start`
    argument (tensor<?xi64>, hybrid.call_start) whose size is the position
    of the call's first token (its elements are not read): MLA's long
    prompts expand the sequence's cached latents up to the call's last
    token, the rows before a prompt continuing a sequence too.
    fp8 block-quantized weights (`hybrid.dequantize` of checkpoint tensors
    whose blocks hold whole panels) are packed as their e4m3fn bytes: every
    packed form decodes, scales by the block's `scale_inv` (read as stored)
    and rounds each weight to the dequantized type as it loads it, so no
    kernel writes a dequantized copy (the dequantize kernel, then unused,
    is dropped by the `canonicalize` after this pass). So that the CPU
    panel form does not decode each weight once per token tile, its fp8
    workgroups take 8 token tiles: each chunk of 128 inputs of the panel is
    decoded once into a stack buffer of the dequantized type that every
    tile then reads, the tiles' sums waiting between chunks (a workgroup of
    one tile, decode's, reads directly); the sums are those of the unstaged
    form, in the same order. A workgroup of one tile (decode's token, an
    expert's few entries) decodes a panel row of fp8 in 16-bit lanes, two weights to a 32-bit
    lane, whose halves are f32s by one shift or one mask (bf16 has f32's
    exponent), and round the products to bf16 in one conversion split the
    same way (the scale times 2^120 in one product where that is finite,
    else two): the panel's lanes come out permuted, and each row's sums are
    put back in order once before they are stored. MLA's absorbed
    attention reads `kv_b_proj` in the checkpoint's layout the same way.

    Otherwise linear layers `y = x W^T` become a parallel loop over register tiles
    of 4 tokens x 4 output rows, `W` indexed `(out, in)`: the checkpoint
    layout is used as is, each row read contiguously. A full tile keeps 16
    `vector<8xf32>` partial sums (vector.transfer_read of 4 rows of x and 4
    of W per step, vector.fma), reduces them and adds the columns left over;
    edge tiles (and decode's single token) compute plain dot products. The
    multiply-adds of dot products (here and in the MoE experts) carry
    `fastmath<reassoc,contract>`, so that LLVM vectorises them too. These
    dot products, and the unpacked experts', read fp8 block-quantized
    weights as their bytes too, decoded, scaled and rounded as loaded
    (their dequantize kernels are dropped likewise): unpacked builds and
    external weights never hold a dequantized copy.

    `hybrid.attention` becomes its projections plus a loop nest on memrefs:
    a `!hybrid.kv_cache<H x D x T>` argument becomes the sequence's cache
    buffer `memref<2 x max-seq-len x H x D x T>` (K then V); each token's
    key and value are stored at its position and each query attends to
    positions 0..its own with an online softmax. This is the reference form
    the tiled kernels are checked against. With pack-weights (a target
    vector width), the CPU form reads K and V rows as vectors and takes
    positions 8 at a time: one correction of the running sum per 8, their
    weights as one vector exp; each dot product in 2 independent FMA
    chains. In calls of several tokens a workgroup takes up to 8 heads of
    one KV head (a power of two dividing the heads per KV head) of 8 tokens
    together over blocks of 16 cached positions, each query's softmax state
    kept between blocks, so that the rows are read once for all of them
    (when the tokens are one sequence's, as a prompt's are; a call of one
    token keeps a workgroup per head, its only parallel work). The group
    and per-head kernels take tokens in the order 0, n - 1, 1, n - 2, ...,
    so that each CPU thread's contiguous range of workgroups holds as much
    of a prompt's causal attention as another's.
    `hybrid.mla`'s CPU form reads its latent rows, which all its heads
    share, the same way, the rope part of the score as more vectors of the
    row where a width of at least 4 divides both parts. Its group
    workgroups take 8 tokens, so that each head's kv_b rows (absorbed
    queries, value rows) are read, and fp8 decoded, once for the 8; its
    state does not fit in registers, so each block of rows is staged as
    f32 (once for the 8 tokens when they are one sequence's, as a prompt's
    are), each head's scores (8 positions a pass) and softmax update (one
    vector exp per block) computed, then each value vector loaded once and
    added into every head's sums, as flash attention takes a block.

    `hybrid.moe` (its reference form) becomes the router projection, a
    routing kernel per token that scores (softmax or sigmoid), adds the
    selection bias, applies the group limit, picks the top-k, renormalises
    and scales exactly as transformers does, then per (token, slot) the
    chosen expert's SwiGLU for that token alone, and a combine per (token,
    column) with the shared expert (and its sigmoid gate), which goes
    through the dense SwiGLU path. `hybrid.moe_route` (from
    hybrid-fuse-moe-routing) is the same routing kernel with the router
    product computed inside it; `hybrid.moe_experts` groups the chosen
    (token, slot) pairs by expert (a counting sort), runs the expert
    kernels per (row or panel, expert) over that expert's tokens, reading
    each expert row once per call (grouped matmuls on packed weights with
    pack-weights), and combines the weighted expert outputs per (token,
    column).

    Projections of one input whose weights are all packed (attention's
    q/k/v, Gated DeltaNet's in_proj_qkvz/ba, MLA's q_a/kv_a) share one
    kernel over the panels of all of them; a SwiGLU's gate and up share
    one that stores only silu(gate) * up. Attention and MLA read their
    cached rows as vectors and keep the running sums in registers.

    `hybrid.gated_delta_net`: `!hybrid.conv_state` and
    `!hybrid.recurrent_state` become buffers of their shapes; a per-token
    loop nest runs the causal conv from the window and the gated delta rule
    in its recurrent form from the state, advancing both, then the gated
    norm. This is the decode form and the reference for the chunked form.
    `hybrid.mamba` likewise: conv from the window, dt/B/C norms, softplus dt
    and the selective scan from the ssm state, token by token.
    `hybrid.mla`: a `!hybrid.latent_cache<L x R x T>` becomes
    `memref<max-seq-len x (L + R) x T>` holding each position's normed
    latent and rotated rope key; attention runs in the absorbed form.

    Loop nests whose iterations are independent are `scf.parallel`: KV
    stores and attention per (token, head), MoE routing per token, expert
    activations per (row, expert), their down projections per (column,
    expert), the weighted sum per (token, column), the Gated DeltaNet conv per channel and its recurrence per value
    head, the Mamba conv and scan per channel (each sequential over tokens
    inside). Their scratch buffers are static allocas used by one loop only,
    so that hybrid-form-dispatches gives every kernel call its own.

    With column-workgroups (the GPU forms) `hybrid.gated_delta_net` runs
    its recurrence per (value head, state column); with `chunk_size`, a
    call of several tokens of one sequence instead runs a workgroup per
    (value head, panel of pack-weights state columns when that divides
    v_head_dim, else all of them) walking the chunks, each step of the chunked rule a
    cooperative loop (`scf.parallel` marked `hybrid.cooperative`, which the
    workgroup's threads share: a GPU block's, see hybrid-kernels-to-gpu),
    the chunk's q, k and U|W rows (padded by one element against bank
    conflicts) and C x C scores and L in scratch the workgroup shares; a
    chunk whose buffers exceed block-shared-bytes (the CUDA block's shared
    memory) is an error naming the largest that fits. Without batch slots the plan
    gives the kernel of the other form no workgroups. `hybrid.mamba` with
    `chunk_size` scans such a call in a workgroup per group of 128 /
    d_state channels: per chunk (fewer tokens where its buffers would
    exceed block-shared-bytes) a cooperative loop per (channel, state)
    pair carries the state through the chunk's tokens and stores the
    terms C h, then one per (token, channel) sums them; other calls (and
    all without a chunk size) scan token by token, a workgroup per
    channel. The MoE routing
    kernel (top-k above 1) is a workgroup per token whose steps are
    cooperative loops over the experts: the softmax's maximum and sum are
    cooperative reductions, and each choice an argmax in two (the largest
    free selection score, then the lowest expert index holding it, as i32
    minui), the expert the sequential form picks. Attention's and MLA's
    decode (the calls the tiles of mma-tiles do not take) split the cache
    as flash-decoding does: a workgroup per (token, head, split of up to
    128 cached positions), one thread loading the query into its shared
    buffer, then cooperative loops scoring a position per iteration,
    reducing the split's maximum and sum of exp(s - max), and summing a
    value column per iteration into the split's record; then a workgroup
    per (token, head) weighs the records by exp(max_s - max) likewise.

    With `max-batch` above 1 the state buffers are batched: every buffer
    above gets a leading [max-batch] dimension and token i uses slot
    `slots[i]`, so one call can decode one token for each of several
    sequences (tokens of one sequence must come in order).
  }];
  let options = [
    Option<"maxSeqLen", "max-seq-len", "int64_t", "4096",
           "Positions a KV cache holds (the cache buffer's second dimension)">,
    Option<"packWeights", "pack-weights", "int64_t", "0",
           "Output rows per panel of packed linear weights (0: read weights "
           "in the checkpoint's [out, in] layout)">,
    Option<"columnWorkgroups", "column-workgroups", "bool", "false",
           "Packed linear layers run one workgroup per output column and "
           "tile of 8 tokens (a token for layers of fewer than 32 outputs), "
           "grouped experts one per (routed expert, output "
           "column), with scalar accumulators, instead of one per panel: the "
           "GPU form, whose neighbouring threads then read neighbouring "
           "columns of a panel; needs pack-weights. Calls of at most 15 "
           "rows (decode, batches; the rows past mma-tiles' tiles) of "
           "layers whose inputs are whole slices (16-byte loads per panel "
           "row, 128 threads) take a GEMV form instead: a block per (panel, "
           "split of the inputs) whose threads first prefetch the start "
           "of the block's slice of the weights (memref.prefetch, a "
           "128-byte line each, up to 16 KiB) and then sum slices of the "
           "inputs, "
           "reduced in shared memory; the last block of a panel to count "
           "its arrival (an atomic add on a zeroed i32 global of the "
           "module, one entry per panel, set back to 0 by that block) "
           "sums the splits with the epilogue; so do the grouped experts routed "
           "at most 15 entries (with mma-tiles, the entries past their full "
           "tiles): a block per routed expert, panel and split. Each form's "
           "loop of a linear layer (tiles, their epilogue, GEMV, columns) is "
           "marked hybrid.row_form: it writes only its rows of the layer's "
           "output (its dimensions of one iteration left out, which "
           "canonicalize would drop with the mark)">,
    Option<"mmaTiles", "mma-tiles", "bool", "false",
           "With column-workgroups: packed linear layers whose inputs are a "
           "multiple of the tile's depth (8 for f32 tiles, 16 for bf16 "
           "weights' bf16 tiles) and outputs of 8 compute their full tiles "
           "of 16 tokens as vector.contract tiles, a workgroup per (up to 4 "
           "token tiles: 2 for a gate/up pair and for grouped experts, a "
           "group of one expert's full tiles; 4 "
           "panels): a block of 4 warps, a panel each, that stages x's tiles "
           "and the panels' weights in its shared buffers for each step of "
           "inputs (two slots: the next step's copies, marked "
           "hybrid.prefetch, go before this step's tiles), which the CUDA "
           "target runs on tensor cores (an "
           "epilogue such as SwiGLU's in an elementwise kernel after); the "
           "tokens past the last full tile take the column form. Gated "
           "DeltaNet's chunked block form, for chunks of whole 16-token "
           "tiles and heads of whole tiles (key heads a multiple of 16, "
           "state columns of 8) whose buffers fit block-shared-bytes, runs "
           "as three kernels whose products are f32 vector.contract tiles of "
           "the block's warps: a workgroup per (value head, chunk), all in "
           "parallel, prepares U, W, q e^G, the masked scores and the "
           "tail-scaled K^T in global buffers ((I + L)^{-1} by blocks of "
           "16: the diagonal ones by substitution, the others as tiles), "
           "then one per (value head, panel) walks the chunks with the "
           "state's columns in its shared buffers (the next chunk's "
           "prepared rows copied into a second slot, hybrid.prefetch, "
           "where two fit), storing V' and the state before each chunk, "
           "from which one per (value head, chunk, panel), all in "
           "parallel, computes the outputs; other chunks of such "
           "heads warn. Attention and MLA of calls of several tokens of one "
           "sequence run a workgroup per (32 or 16 query rows, head) whose "
           "q K^T and P V are such tiles (rows padded with zeros to whole "
           "tiles), an online softmax over blocks of cached positions "
           "between them">,
    Option<"warpgroupTiles", "warpgroup-tiles", "bool", "false",
           "With mma-tiles: bf16 linear layers' and grouped experts' full "
           "tiles as hybrid.warpgroup_mma, the product of a block's "
           "warpgroup (sm_90a's wgmma): a workgroup per (4 token tiles, 4 "
           "panels; the experts' tile table groups up to 4 of an expert's "
           "tiles), warp w the token tile w across the 4 panels, x and the "
           "weights staged as 8x8 core matrices (A K-major, B N-major)">,
    Option<"bf16Dot", "bf16-dot", "bool", "false",
           "With pack-weights and without column-workgroups: the target CPU "
           "has AVX512-BF16's dot product. Linear layers and grouped "
           "experts with bf16 weights (stored so, not fp8) and an even "
           "number of inputs read a copy packed in pairs of inputs "
           "(`packed(NR) pairs`); their full tiles multiply x, rounded to "
           "bf16 by a kernel before them (a workgroup per row, none in a "
           "call of fewer tokens than a tile), two inputs at a time: "
           "x86vector.avx512.dot, a pair of products summed into each f32 "
           "lane, half the instructions of f32 FMAs. Rows taken one at a "
           "time round x as they read it and multiply each half of the "
           "pairs by an FMA, the second input first, as the dot product "
           "adds them: the same sums. The experts' activations are stored "
           "in bf16. Prompt attention over a bf16 KV cache computes its "
           "scores S^T = K Q^T and P V by the dot product too: q^T rounded "
           "to bf16 and interleaved by pairs of key elements once per "
           "workgroup, each staged block of keys back in bf16 and of values "
           "in bf16 interleaved by pairs of positions (exact: the cache is "
           "bf16; MLA's expanded keys and values rounded), the softmax's "
           "weights rounded to bf16 in pairs of positions">,
    Option<"blockSharedBytes", "block-shared-bytes", "int64_t", "49152",
           "Shared memory a workgroup of the block forms may hold "
           "(column-workgroups): the CUDA block's limit. It bounds the "
           "chunked delta rule's chunks (an error names the largest that "
           "fits), the tokens Mamba's chunked scan stages at a time and the "
           "attention tiles' rows (32 or 16)">,
    Option<"maxBatch", "max-batch", "int64_t", "1",
           "Sequences a call can advance together: above 1, state buffers get "
           "a leading [max-batch] dimension and functions with state a "
           "trailing `slots` argument (tensor<?xi64>, hybrid.slots) giving "
           "each token's batch slot, then a `sequences` argument "
           "(tensor<?xi64>, hybrid.sequences) whose size is the number of "
           "sequences among the call's tokens (its elements are not read). "
           "A call holds one sequence's tokens or one token of each of "
           "several sequences">,
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect",
    "::mlir::x86vector::X86VectorDialect",
  ];
}

def TileScansPass : Pass<"hybrid-tile-scans", "::mlir::ModuleOp"> {
  let summary = "Run the recurrent mixers' prefill in chunks";
  let description = [{
    Sets `chunk_size` on every `hybrid.gated_delta_net` and `hybrid.mamba`
    whose calls may carry several tokens (a token count other than a
    static 1) and that has none yet. Their lowering then runs a call of
    several tokens of one sequence in chunked form; single tokens (decode)
    and calls that mix sequences (batched decode) keep the step-by-step
    recurrence, chosen at run time.

    Gated DeltaNet (models.md 1.5.2): per value head and chunk of C tokens,
    the cumulative log decays G, the strictly lower `beta_r (k_r . k_s)
    exp(G_r - G_s)` and `(q_r . k_s) exp(G_r - G_s)` matrices, the UT
    transform solved by forward substitution into U = T (beta V) and
    W = T (beta exp(G) K), then `V' = U - W S`, `O = (Q exp(G)) S + P V'`
    and `S = exp(G_C) S + (K exp(G_C - G))^T V'`: every O(C d^2) step is a
    product with the state, and the state is read 3 times per chunk
    instead of 3 times per token. (convert-hybrid-to-linalg runs those
    three products as register tiles of 6 rows x vector<pack-weights>
    columns when pack-weights divides v_head_dim, and the C x C parts --
    q k^T and k k^T with their decays and causal mask, the forward
    substitution -- as register tiles too when it also divides k_head_dim
    and the chunk.)

    Mamba-1: per channel and block of C tokens, the step sizes, decays
    `exp(dt A)` and inputs `dt B x` of the whole block are computed first
    (independent, vectorisable), then only `h = decay h + input` and
    `y = C . h` run in sequence.

    The results equal the token-by-token form up to float rounding; a
    ragged last chunk and a state carried in from an earlier call are
    handled. (In convert-hybrid-to-linalg's GPU forms, column-workgroups,
    Gated DeltaNet's chunks run a block per head and Mamba token by token.)
  }];
  let options = [
    Option<"chunkSize", "chunk-size", "int64_t", "64",
           "Tokens per chunk (models.md uses 64 for Gated DeltaNet)">,
  ];
  let dependentDialects = ["::hybrid::HybridDialect"];
}

def FuseMoERoutingPass : Pass<"hybrid-fuse-moe-routing", "::mlir::ModuleOp"> {
  let summary = "Split every MoE block into one routing op and grouped experts";
  let description = [{
    Rewrites each `hybrid.moe` (whatever its variant: softmax or sigmoid
    scoring, selection bias, group limit, renormalisation, routed scaling,
    shared experts with or without their sigmoid gate) into
    `hybrid.moe_route`, which convert-hybrid-to-linalg lowers to one
    kernel per token running the router product, scoring, bias, group
    limit, top-k, renormalisation and scaling; the shared expert as a
    `hybrid.mlp`; and `hybrid.moe_experts`, which lowers to a counting sort
    of the (token, slot) pairs by expert, one grouped matmul per expert over
    only its tokens (only the chosen experts' weights are read), and one
    combine of the routing-weighted expert outputs with the (gated) shared
    expert.

    Without this pass `hybrid.moe` lowers to its reference form: per token,
    each chosen expert's SwiGLU is computed for that token alone, so every
    expert row is read once per token that chose it.
  }];
  let dependentDialects = ["::hybrid::HybridDialect"];
}

def FuseElementwisePass : Pass<"hybrid-fuse-elementwise", "::mlir::func::FuncOp"> {
  let summary = "Fuse chains of row-wise linalg ops into one loop over rows";
  let description = [{
    Runs on linalg on tensors, after convert-hybrid-to-linalg and
    convert-elementwise-to-linalg. A linalg op is row-wise when its
    outermost loop is parallel and indexes the first dimension of its
    result (the token dimension of activations). From the last such op up,
    each one that consumes another row-wise op becomes the root of a
    chain: it is tiled into an `scf.forall` over single rows and its
    row-wise producers are pulled into the loop (upstream tile-and-fuse),
    transitively. A producer is pulled in only when one row of it feeds one
    row of the loop (nothing is recomputed) and all its other users come
    after the root, are inside the loop or were pulled in too; the loop
    then also yields the producer's rows for those later users (a residual
    sum feeds the next residual add). `linalg.fill` initialisers of
    accumulators are recomputed per row, each into a buffer of its own
    (`bufferization.alloc_tensor`: two equal fills that cse merged would
    make bufferization copy one).

    A gather of whole rows (`y[r, :] = x[rows[r], :]`, select_rows'
    lowering) is row-wise over the gathered rows; when nothing outside the
    chain reads its source, the source and its producers join the loop
    computed at row rows[r] only (the rest of their rows is never needed).

    What this fuses in the models: the residual add, the RMS norm's sum of
    squares and its normalisation (or the embedding lookup and the first
    norm) become one kernel over tokens instead of three, each row read
    from memory once; after an MoE layer its combine (the experts' outputs
    summed over the slots, the shared expert's gate as a dot product over
    the row, the gated shared expert added) joins them too. The last
    mixer's residual add runs only at the rows that get logits (one row in
    a prefill that generates), in the kernel of the norm after it.
    Ops that are the only row-wise op of their chain stay as they are.
  }];
  let dependentDialects = [
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def WeightsToArgumentsPass : Pass<"hybrid-weights-to-arguments", "::mlir::ModuleOp"> {
  let summary = "Turn hybrid.weight values into function arguments";
  let description = [{
    Every distinct checkpoint tensor a function reads (a `hybrid.weight`,
    stacked experts included) becomes an argument of that function,
    appended after the existing ones, with `hybrid.weight = "<name>"` (and
    `hybrid.experts = N` for stacked ones) as argument attributes. The
    weight ops are erased. This is the binding contract with the runtime:
    it passes each weight's bytes, from the artifact or the checkpoint, as
    that argument; no weight data is ever in the IR. A packed weight
    (`packed(NR)`) gets `hybrid.packed = NR` too: the artifact holds its
    bytes in panels.
  }];
}

def FormDispatchesPass : Pass<"hybrid-form-dispatches", "::mlir::ModuleOp"> {
  let summary = "Outline parallel loops into kernels run by hybrid.dispatch";
  let description = [{
    Runs on buffers. Every `scf.parallel` (without reductions) directly in a
    function's body becomes a private kernel function
    `@<function>_dispatch(begin: index, end: index, operands...)` (or
    `@<function>__<module>` when the loop's location names the checkpoint
    module it computes, e.g. `@forward__model_layers_3_mlp`) marked
    `hybrid.kernel`, and a `hybrid.dispatch` of it over as many workgroups
    as the loop has iterations (the product of its trip counts). The kernel
    runs workgroups `begin .. end - 1`, mapping each back to the loop's
    induction variables (last dimension fastest), so any split of the range
    computes what the loop did. Constants are recreated in the kernel, and a
    static `memref.alloca` used only inside the loop becomes the kernel's
    own: concurrent calls never share scratch. What remains of the function
    is the dispatch plan: buffer allocation and kernel launches in order. A
    loop marked `hybrid.row_form` (a linear layer's form) gives its dispatch
    the mark, for `hybrid-merge-dispatches`.
  }];
  let dependentDialects = [
    "::hybrid::HybridDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def DeallocAfterLastUsePass : Pass<"hybrid-dealloc-after-last-use"> {
  let summary = "Free each buffer right after the last op that uses it";
  let description = [{
    The ownership-based buffer deallocation frees a block's buffers at the
    block's end: a call's plan held every layer's buffers until it
    returned. This pass moves each `memref.dealloc` up to just after the
    last op of its block that uses the buffer, or any value that may hold
    its address (a result of an op that takes it, transitively, of memref,
    tensor or pointer type, or an extracted pointer: not its dimensions or
    the values read from it), counting ops nested in an op of the block as
    that op.
    A later layer's buffers then reuse an earlier one's memory (the CPU
    runtime keeps freed blocks for reuse). A dealloc stays where it is
    when a value derived from its buffer reaches a terminator, or is used
    outside the dealloc's block or after it. Run it on the final plan:
    after every pass that moves or merges dispatches.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def OffloadHostWorkPass : Pass<"hybrid-offload-host-work", "::mlir::ModuleOp"> {
  let summary = "Move the plan's own reads and writes of buffers into parallel loops";
  let description = [{
    For a GPU target, before `hybrid-form-dispatches`: the plan runs on the
    host while its buffers are device memory, so it may allocate, free and
    dispatch but not touch a buffer's contents. In every non-kernel
    function, a top-level `memref.copy` becomes an `scf.parallel` over the
    copied elements (a `bufferization.clone` an allocation and such a
    loop); each run of other top-level ops that read or write
    memory (e.g. the counting sort that groups MoE tokens by expert),
    separated only by pure ops, moves into a one-iteration `scf.parallel`
    (one GPU thread runs it in order); a top-level `memref.alloca` used
    outside one parallel loop becomes a `memref.alloc` freed before each
    return (scratch of one loop stays: `hybrid-form-dispatches` gives each
    kernel call its own). An op that touches memory and whose results the
    plan uses is an error. The CPU pipeline runs it too, so that both
    targets share one form of the plan.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def CooperativeRowsPass : Pass<"hybrid-cooperative-rows", "::mlir::ModuleOp"> {
  let summary = "Share a row kernel's column loops among a workgroup's threads";
  let description = [{
    After `hybrid-form-dispatches`, for the GPU forms: a kernel whose
    workgroup loop holds only loops over a row's columns (`scf.parallel`
    nested in the workgroup, as convert-linalg-to-parallel-loops makes of
    the fused residual add and norm chains), copies of static-shaped
    buffers (the residual that the rows getting logits keep for the next
    layer; each becomes such a loop), static buffers and ops that at most
    read memory -- with at least one of the loops longer than one
    iteration and its buffers within shared-memory-bytes, less 1 KiB for
    the block reductions' buffers -- gets those loops marked
    `hybrid.cooperative`: `hybrid-kernels-to-gpu` then runs it a block per
    row, the loops strided over the block's threads, instead of one thread
    per row (whose neighbours would read other rows, and whose decode step
    would walk a 2048-wide row alone).

    A loop of one iteration around a sum over the columns into a
    one-element accumulator -- `scf.for %k { %a = load %acc[I]; ...;
    store (addf %a, %t), %acc[I] }`, the norm's sum of squares, where
    nothing else in the loop touches `%acc` -- becomes a cooperative
    `scf.parallel` over k reducing %t with `arith.addf` from 0, then a
    cooperative loop of one iteration adding the sum to `%acc[I]`. On a
    CPU the loops stay sequential and the sum's order is unchanged; on a
    GPU the terms are summed per thread, then across the block.

    Other kernels are left as they are.
  }];
  let options = [
    Option<"sharedMemoryBytes", "shared-memory-bytes", "int64_t", "49152",
           "Shared memory a block may have (the CUDA pipeline gives the "
           "architecture's opt-in limit: DeepSeek-V3's 7168-wide rows need "
           "more than 48 KiB)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def MergeDispatchesPass : Pass<"hybrid-merge-dispatches", "::mlir::ModuleOp"> {
  let summary = "Run independent dispatches as one kernel launch";
  let description = [{
    After `hybrid-form-dispatches` (and `hybrid-cooperative-rows`), in each
    plan function: a `hybrid.dispatch` joins the earliest dispatch before
    it such that
    - no dispatch from that one up to it writes a buffer it reads or
      writes, or reads a buffer it writes (buffers compared at the plan's
      allocation or argument they view; a kernel's use of an argument known
      from its ops' memory effects, any other use counting as a read and a
      write), and none shares a non-constant global with it (a GEMV's
      arrival counts); two forms of linear layers (dispatches marked
      `hybrid.row_form`: convert-hybrid-to-linalg's tensor-core tiles,
      their epilogue, GEMV and column forms, which take different rows of
      a layer's output) may both write a buffer that neither reads;
    - only allocations, frees of other buffers, ops free of memory effects
      and such dispatches separate them, and the ops its operands need
      among them are allocations or free of memory effects (they move
      above the earlier dispatch);
    - both kernels are thread kernels, or both block kernels with
      cooperative loops but no warps loops (tensor-core kernels, with their
      registers and large shared tiles, are not merged), and their static
      scratch fits: together 48 KiB for block kernels (the allocas at
      their entries and a warp's value per block reduction: shared memory
      any block may have); for thread kernels the smaller of the two at
      most 256 bytes (a GPU thread's scratch is local memory, reserved for
      the largest frame of any kernel: a large frame, such as the MoE
      counting sort's arrays, may take in a kernel with little scratch).

    The two become one dispatch over n1 + n2 workgroups of a new kernel
    `@<first>__and__<what the second's name adds>` (e.g.
    `@forward__model_layers_0_mlp__gate_gemv__and__gate_proj_up_gemv`)
    taking both kernels' operands and n1: a call for workgroups [begin,
    end) runs the first kernel's body for [min(begin, n1), min(end, n1))
    and then the second's for [max(begin, n1) - n1, max(end, n1) - n1), so
    any split of the range still runs each workgroup once. On a GPU the
    two run side by side in one launch: a decode step launches fewer
    kernels (the router's GEMV with the shared expert's gate and up
    projection, ...). The merged dispatch keeps `hybrid.row_form` when
    both were forms. Dispatches of kernels it does not know, and all
    others, are left as they are. Run after `hybrid-chain-dispatches`, it
    may also merge the remainders that pass leaves (`hybrid.tail_remainder`:
    the workgroups a tail does not run, a prompt's), as any other
    dispatch: chaining is over by then.

    With `small-blocks=0`, a block kernel whose count may be 1 or 2 at run
    time (hybrid-chain-dispatches' rule) joins nothing: the CUDA pipeline
    merges once so, leaving a decode step's small block kernels (the MoE
    grouping) to run in a tail, and once more after the chaining (the
    shared expert's down GEMV beside the routed experts' gate and up
    GEMV, which the grouping kept apart).
  }];
  let options = [
    Option<"smallBlocks", "small-blocks", "bool", "true",
           "Also merge block kernels whose workgroup count may be 1 or 2 at "
           "run time (false: leave them to hybrid-chain-dispatches)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
  ];
}

def ChainDispatchesPass : Pass<"hybrid-chain-dispatches", "::mlir::ModuleOp"> {
  let summary = "Run a small block dispatch in the tail of a block kernel before it";
  let description = [{
    After `hybrid-merge-dispatches`, in each plan function: a dispatch of a
    block kernel (cooperative loops, no warps loops) whose workgroup count
    may be 1 or 2 at run time (from the constants the plan computes it of:
    a count of tokens may, a GEMV's select(few, panels * splits, 0) may
    not) joins the nearest dispatch before it that is a block kernel too,
    not marked `hybrid.tail_remainder`, whose static scratch fits a block's
    48 KiB with its own, when
    - only allocations, frees, ops free of memory effects and at most two
      other dispatches lie between them, and those dispatches may run
      before that one instead (neither orders the other, as
      `hybrid-merge-dispatches` judges it: the experts' scatter of their
      full tiles and their GEMV are forms of one output, `hybrid.row_form`);
      they move above it;
    - the ops its operands and theirs need among them are allocations or
      free of memory effects (they move above it too).

    The earlier dispatch becomes one of a new kernel
    `@<first>__then__<what the second's name adds>` over the first's n1
    workgroups, taking both kernels' operands, n1 and a tail count t
    (the second's count n2 where 1 <= n2 <= 2 and n1 > 0, else 0): a call
    for workgroups [begin, end) runs the first kernel's body for them;
    then, if t > 0, one thread adds end - begin to the kernel's arrival
    count (a private i32 global, an atomic add after the block's threads
    have met) and the call that brings it to n1 sets it back to 0 and
    runs the second kernel's body for its workgroups [0, t). The second's
    own dispatch keeps the rest, n2 - t workgroups (none, or all of them),
    and is marked `hybrid.tail_remainder`: it launches only for a large
    count, so nothing but what the last paragraph says is chained onto it.
    On a GPU the last block of the
    first to finish runs the second (the GEMVs' last split does the same
    with the splits' sums: hybrid-kernels-to-gpu puts GPU-scope fences
    around the atomic), so a decode step's norms, after the GEMV before
    them, its routing, after the router's GEMV, and its KV cache stores,
    after the q/k/v GEMV, take no launch of their own.

    Such a small block kernel that follows the remainders of a joined
    kernel's tail, with only plan ops between (the MoE grouping after the
    routing), goes at the end of that tail instead: the joined kernel is
    rebuilt with the second's body for [0, t') after the tail's last one
    (`@<joined>__then__<second>`, taking t' after n1), where t' is the
    second's count when that is 1 or 2 and the tail ran all of the last
    kernel's workgroups (its t > 0 and equal to its count), else 0: then
    on. It may pass up to 8 dispatches after the remainders that neither
    orders with it (a layer's other projection: the shared expert's down
    GEMV); its own dispatch moves above them, keeps n2 - t' and becomes a
    remainder too. A call with no workgroups of a joined kernel's first
    part does not arrive at the count, so the kernel stays correct inside
    one that `hybrid-merge-dispatches` makes of it and another.

    Where that second kernel's count is at most 2 whatever the rows (its
    constants bound it: the MoE grouping's min(rows, 1)), its own dispatch,
    now a remainder, then joins the remainder right before it as above
    (`@<remainder>__then__<second>`, the joined dispatch still a
    remainder): where the tail did not run all of the last kernel's
    workgroups (more rows than 2: a prompt, a batch of several sequences'
    decode steps) that remainder launches, and its last workgroup to
    finish runs the second's.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def DeduplicateKernelsPass
    : Pass<"hybrid-deduplicate-kernels", "::mlir::ModuleOp"> {
  let summary = "One kernel for the identical kernels of repeated layers";
  let description = [{
    After `hybrid-form-dispatches` (and `hybrid-merge-dispatches`): kernels
    (`hybrid.kernel` functions that only `hybrid.dispatch`es call) that are
    the same op for op, attribute for attribute, become the first of them
    in the module. The layers of a model repeat, and their weights,
    caches and states are operands, so layer 3's router kernel is layer
    0's: the later passes, LLVM's backends and ptxas compile it once. Two
    kernels may differ in their own globals (private, mutable, used by
    that kernel alone: a GEMV's arrival counts, which the last arrival
    sets back to zero) when those have the same type and initial value:
    calls of a kernel never overlap, so one kernel's globals serve every
    dispatch of it, and the others' are erased. Each redirected dispatch
    gets `hybrid.label`, the name of the kernel it called, which profiles
    show instead of the kernel's.
  }];
  let dependentDialects = ["::hybrid::HybridDialect"];
}

def ReverseParallelOrderPass
    : Pass<"hybrid-reverse-parallel-order", "::mlir::ModuleOp"> {
  let summary = "Run kernels' workgroups and parallel loops last first: a check of the GPU forms on the CPU";
  let description = [{
    After `hybrid-form-dispatches`, on the CPU pipeline (hybridc
    `--parallel-order=reversed`): in every `hybrid.kernel` function the
    workgroup loops (its top-level `scf.for` ops: over [begin, end), or a
    merged dispatch's share of it per kernel) and every `scf.parallel`
    inside (a block form's cooperative phases, its warps, its cooperative
    sums) take
    their iterations last first: an induction variable `i` of [lb, ub) by
    `step` becomes `lb + last - i`. The CPU runs those iterations one after
    another; a GPU runs them at once, in no set order. A kernel form that
    depends on the order (an iteration reading what an earlier one of the
    same loop wrote; a last workgroup to finish, which the CPU always
    makes the highest) computes right forwards and wrong on a GPU, and,
    reversed, wrong here too. Nothing else changes but the order of a
    cooperative sum's terms. Not for deployment.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def RoundTilesToTF32Pass : Pass<"hybrid-round-tiles-to-tf32"> {
  let summary = "Round the f32 contract tiles' operands to tf32, as a GPU's tensor cores take them (CPU)";
  let description = [{
    On the CPU pipeline's GPU forms (hybridc `--gpu-kernel-forms
    --tile-precision=tf32`): every `vector.contract` in a warps loop (a
    warp's tensor-core tile) with f32 operands gets them rounded to tf32
    first, as `hybrid-mma-tiles-to-nvgpu` has the GPU do (cvt.rna: 10
    bits of mantissa, to nearest, ties away from zero; infinities and
    NaNs kept), in integer arithmetic on their bits. Operands widened from
    16-bit floats, which tf32 holds exactly, are left alone, and so are
    contracts outside warps loops. Each operand is rounded once, where it
    is defined. The CPU then multiplies the tiles at the GPU's precision:
    a check against the checkpoint's outputs shows what tf32 costs a
    model. Not for deployment.

    With `split` (hybridc `--tile-precision=3xtf32`, as
    `hybrid-mma-tiles-to-nvgpu`'s `split-tf32`): each operand x becomes
    its tf32 value hi = tf32(x) and the tf32 value of its remainder, lo =
    tf32(x - hi) (exact in f32), and each tile acc + a b three tiles,
    smallest first: acc + a_lo b_hi, then + a_hi b_lo, then + a_hi b_hi
    (a_lo b_lo, below f32's precision, is left out). A remainder that is
    not finite (of an infinite or NaN operand, or one that rounds past the
    largest tf32) is 0, so that such an operand gives what tf32 gives. An
    operand widened from 16 bits has no remainder, so its tile is two
    contracts.
  }];
  let options = [
    Option<"split", "split", "bool", /*default=*/"false",
           "Three tf32 products per tile (3xtf32) instead of one">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def CheckBoundsPass : Pass<"hybrid-check-bounds", "::mlir::ModuleOp"> {
  let summary = "Check every buffer access against its buffer's shape as the program runs";
  let description = [{
    On the CPU pipeline (hybridc `--check-bounds`), after the kernels take
    their final form: before each `memref.load`, `memref.store`,
    `memref.atomic_rmw`, `memref.prefetch`, `vector.load`, `vector.store`
    and unmasked
    `vector.transfer_read` / `vector.transfer_write` on a memref, a
    check that every element it touches lies inside the buffer's
    shape (each index at least 0; index plus the vector's extent at most
    the dimension's size; a transfer's dimensions that are not in bounds
    pad or drop their elements themselves and are not checked); before
    each `memref.subview`, that the view's last element along every
    dimension lies inside its source. The first check of a call of a
    function to fail keeps its message (naming the op, the function and
    its location) in a slot at the function's entry; before the function
    returns, a kept message goes to stderr (libc's `write`: unbuffered)
    and the program aborts. The checks do not branch: a branch in the
    kernels' loops would split their blocks, and a bf16 value live across
    a split makes the x86 backend call compiler-rt's `__truncsfbf2`, which
    artifacts do not link. A kernel that reads past a buffer computes
    from whatever lies there, which on the CPU padding may hide and on a
    GPU is another buffer or a fault: with the checks the first such
    access stops the program when its function returns. Not for
    deployment.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def KernelsToGPUPass : Pass<"hybrid-kernels-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Move dispatch kernels into a GPU module, a thread or block per workgroup";
  let description = [{
    After `hybrid-form-dispatches`: every `hybrid.kernel` function
    `@k(begin, end, operands...)` becomes `gpu.func @k(workgroups,
    operands...) kernel` in `gpu.module @hybrid_kernels` (the module gets
    `gpu.container_module`), with `known_block_size` = [block-size, 1, 1].
    Thread `block_id.x * block-size + thread_id.x` runs that workgroup of
    the kernel's body; threads past the count run none. A kernel with
    cooperative loops (`scf.parallel` marked `hybrid.cooperative`: a block
    form of convert-hybrid-to-linalg) or warps loops (`scf.parallel` marked
    `hybrid.warps`: the mma form's block of 4 warps) is a block kernel:
    block `block_id.x` runs the workgroup; a warps loop (one dimension of 4
    iterations; block-size must then be 128) gives way to its body at
    iteration `thread_id.x / 32`, each warp's lanes running it together
    (hybrid-mma-tiles-to-nvgpu spreads its `vector.contract` tiles over
    them; a contract outside a warps loop is an error), then a
    `gpu.barrier` (a next phase may read any warp's tiles); each cooperative
    loop's iterations are strided over the block's threads (the last
    dimension fastest; a constant count that the block size divides as a
    loop of constant trip count per thread, iteration thread_id + j *
    block-size, which LLVM unrolls; the loop marked `hybrid.block_strided`)
    with a `gpu.barrier` before and after (none between
    two loops that only index arithmetic separates, when each writes only
    shared or per-thread buffers that the other does not touch; none after
    a loop marked `hybrid.prefetch`, a copy into the other slot of a
    double-buffered stage, which is read only after a later barrier); scratch that
    more than one of its loops uses, or that code outside them reads,
    becomes a `memref.view` of the GPU module's dynamic shared memory
    (`memref.global "public" @hybrid_dynamic_shared : memref<0xi8,
    #gpu.address_space<workgroup>>`, `.extern .shared` in PTX: each launch
    gives its bytes, so a block may hold more than static shared memory's
    48 KiB), the buffers one after another at 16-byte aligned offsets;
    scratch used inside one loop stays each thread's. A cooperative loop with reductions (f32 `arith.addf` from 0,
    f32 `arith.maximumf` from -inf, i32 `arith.minui` from all ones: the
    identities, from which each thread starts; anything else is an error)
    combines its terms per thread, then across the block with a uniform
    `gpu.all_reduce`, which gives every thread the whole. In a block
    kernel a memory write outside the cooperative and warps loops is an
    error (every thread would run it), as is a cooperative loop inside
    another or a warps loop inside either. Each dispatch then names
    `@hybrid_kernels::@k` and carries `hybrid.block_size` and, for a block
    kernel, `hybrid.workgroup_threads` (= block-size) and, when it has
    shared buffers, `hybrid.shared_bytes` (a block that needs more than
    shared-memory-bytes, counting the static buffer each `gpu.all_reduce`
    lowers with, is an error); the runtime launches
    ceil(workgroups * workgroup threads / block-size) blocks. A 1-D
    in-bounds `vector.transfer_read` from a kernel argument's buffer of
    identity layout (the base of a device allocation, which the runtime
    aligns to 256 bytes) at an index known to be a multiple of the
    vector's length, in rows of a multiple of it, becomes a `vector.load`
    aligned to its size (up to 16 bytes): 128-bit loads for the mma form's
    staging copies. The globals the kernels use are copied into the GPU
    module: constants, and the kernels' own (not constant: lastOfSplits'
    arrival counts, which the host plan must not use; the host's copy is
    dropped). An atomic read-modify-write gets an acquire-release fence
    at GPU scope before and after it (LLVM's NVPTX backend ignores an
    atomic's ordering): the last of a GEMV's workgroups reads what the
    others wrote before they counted themselves. A static buffer a kernel
    allocates and frees in one block (a fused row loop's temporary) becomes
    one `memref.alloca` at the kernel's entry: device malloc is slow and its
    heap small. A dynamically sized allocation in a kernel is an error.

    This is the general mapping, correct for every kernel the CPU pipeline
    forms (workgroups are independent by construction, but for the
    GEMVs' last arrivals, which the fences order).
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", "128",
           "Threads (workgroups) per block">,
    Option<"sharedMemoryBytes", "shared-memory-bytes", "int64_t", "49152",
           "Shared memory a block may have (the GPU's opt-in limit; 48 KiB "
           "without opting in)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def MmaTilesToNVGPUPass : Pass<"hybrid-mma-tiles-to-nvgpu",
                                "::mlir::gpu::GPUModuleOp"> {
  let summary = "Block kernels' vector.contract tiles to tensor-core mma.sync";
  let description = [{
    Runs on `gpu.module @hybrid_kernels` after `hybrid-kernels-to-gpu`. In
    each kernel with `vector.contract` tiles (convert-hybrid-to-linalg's
    mma form: 16x8x8 f32 or 16x8x16 bf16 tiles with f32 accumulators, read
    from tiles the block staged in shared memory, inside a warp's part of
    the kernel), the tiles are lowered with MLIR's vector-to-nvgpu
    conversion: the 32 lanes of the warp each load their fragments
    (`nvgpu.ldmatrix` where the tile allows, else element by element), and
    every contract becomes one `nvgpu.mma.sync`, tf32 m16n8k8 for f32
    tiles, whose A and B fragments are rounded to tf32 as loaded
    (`nvvm.convert.float.to.tf32`, cvt.rna: to nearest, ties away from
    zero; the tensor cores would otherwise take the f32 bits as they are,
    which truncates them -- `hybrid-round-tiles-to-tf32` gives the CPU
    forms the same rounding). bf16 tiles: the upstream conversion takes 16-bit tiles only as
    f16, so the tiles of the kernel's bf16 shared buffers are read through
    f16 views of the same bytes (the buffers' stores and other reads stay
    bf16), and each f16 `nvgpu.mma.sync` it
    makes becomes `nvvm.mma.sync` m16n8k16 on bf16 over the same
    registers. With `split-tf32` (hybridc `--tile-precision=3xtf32`) each
    tf32 mma.sync becomes three on the same accumulator, smallest first:
    a_lo b_hi, a_hi b_lo, a_hi b_hi, where x_hi is x rounded to tf32 and
    x_lo the remainder x - x_hi rounded to tf32, 0 where it is not finite
    (a fragment's elements split once, as loaded): about f32's precision,
    for three times the tensor-core work. An f16 contract (which the bf16 rewrite would misread) is an
    error. While the conversion runs, the kernel's scalar arithmetic is
    made of twins it does not know (index-dialect ops on index values, LLVM
    ops on other scalars; arith again after, flags kept): it would take
    scalar adds, multiplies, divisions, negations and extensions for matrix
    arithmetic and fail on them (the delta rule's block kernels mix scalar
    phases with their tiles). A contract the conversion leaves is an error
    naming the kernel.
  }];
  let options = [
    Option<"splitTF32", "split-tf32", "bool", /*default=*/"false",
           "Three tf32 mma.sync per f32 tile, on each operand's tf32 value "
           "and its remainder's (3xtf32), instead of one">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::index::IndexDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::NVVM::NVVMDialect",
    "::mlir::nvgpu::NVGPUDialect",
    "::mlir::vector::VectorDialect",
  ];
}

def AsyncSharedCopiesPass : Pass<"hybrid-async-shared-copies",
                                  "::mlir::gpu::GPUModuleOp"> {
  let summary = "Block kernels' copies from global into shared memory as cp.async";
  let description = [{
    Runs on `gpu.module @hybrid_kernels` after `hybrid-kernels-to-gpu` (and
    `hybrid-mma-tiles-to-nvgpu`). In the loops `hybrid-kernels-to-gpu`
    strides over a block's threads (`hybrid.block_strided`: a cooperative
    loop), a load from global memory whose only use is a store of the same
    element type into a shared buffer -- the staging copies of the
    tensor-core tiles and of the chunked scans -- becomes
    `nvgpu.device_async_copy` (cp.async): pieces of 4, 8 or 16 bytes (a
    32-byte vector as two), when both addresses are known to be aligned to
    the piece (a kernel argument's base, a shared view's constant shift,
    indices that are multiples); 16-byte pieces bypass L1 (`.cg`). A copy
    in `scf.if %inside {copy} else {zeros stored at the same place}` (rows
    past a call's tokens staged as zeros) becomes one cp.async in place of
    the branch that reads the piece where `%inside` and nothing elsewhere
    (its source size 0: cp.async fills with zeros; the source address then
    the buffer's start). A thread then no longer waits for each load before its store: its copies
    are all in flight together. After each such loop its copies are
    committed as one group (`nvvm.cp.async.commit.group`), and every
    `gpu.barrier` of the kernel first waits for all groups
    (`nvvm.cp.async.wait.group 0`) -- except that the copies of a prefetch
    loop (`hybrid.prefetch`: the next step's slot of a double-buffered
    stage) are waited for only at the barrier that opens the next step's
    prefetch: the step's other barriers wait for all but the prefetch
    groups committed since (`wait.group N`, when no other group came after
    them). A cooperative loop's stores into
    shared memory are read, in the block forms, only after the next
    barrier, except by the same iteration: a buffer that anything else in
    the loop touches (through any view of the same bytes) keeps its
    copies as they are, as does a copy that converts, or whose alignment
    is unknown.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::NVVM::NVVMDialect",
    "::mlir::nvgpu::NVGPUDialect",
  ];
}

def ExpandWarpgroupMmaPass : Pass<"hybrid-expand-warpgroup-mma"> {
  let summary = "Warpgroup products as each warp's vector.contract tiles (CPU)";
  let description = [{
    For the CPU pipeline's GPU forms (gpu-kernel-forms with cuda-arch
    sm_90a): each `hybrid.warpgroup_mma` becomes what it means for its
    warp, read from the core matrices as the op's layout says: the warp's
    16 rows of A (core matrices (2 warp + i, j), i, j in {0, 1}) widened to
    f32, each column tile c of B (core matrices (j, c)), and one
    `vector.contract` [16, 16] x [16, 8] per accumulator tile. The CPU then
    checks the form's staging and the warps' split of the block's product
    against the checkpoint; what sm_90a's wgmma reads for the same
    descriptors is `hybrid-warpgroup-mma-to-nvvm`'s.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::vector::VectorDialect",
  ];
}

def WarpgroupMmaToNVVMPass : Pass<"hybrid-warpgroup-mma-to-nvvm"> {
  let summary = "Warpgroup products to sm_90a's wgmma.mma_async";
  let description = [{
    Runs on the GPU module after `hybrid-kernels-to-gpu` (the warps loop
    is then the block's one warpgroup of 4 warps). In every kernel with
    `hybrid.warpgroup_mma`, each becomes one `nvvm.wgmma.mma_async`
    m64nNk16 (bf16 operands, f32 accumulators) of the warpgroup: A K-major
    and B N-major without swizzling, each matrix descriptor made from its
    buffer's shared-memory address at the op's core matrix and its strides
    (A: the leading byte offset between core matrices along the inputs,
    the stride byte offset between groups of 8 rows; B: the leading byte
    offset between groups of 8 inputs, the stride byte offset between
    groups of 8 columns), after a proxy fence (the stores that staged the
    matrices are the generic proxy's, wgmma reads through the async proxy)
    and `wgmma.fence`, then committed and waited for. Consecutive products
    of a block with the same number of tiles, between them only ops without
    memory effects that read none of their tiles (a step's products of
    each weight and 16 inputs), are one run: the fences before its first
    product, one commit and `wait_group 0` after its last, the products in
    between in flight together (the tensor cores order the accumulators
    of same-shaped products). The warp's
    accumulator tiles [16, 8] become each lane's 4 values of the
    accumulator fragment (rows lane / 4 and lane / 4 + 8, columns 2 (lane %
    4) and the next: the order wgmma's registers hold them in), through
    the loops that carry them; their constant initial values and their
    stores (`vector.transfer_write` of a tile) follow.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::NVVM::NVVMDialect",
    "::mlir::vector::VectorDialect",
  ];
}

def ProgrammaticDependentLaunchPass
    : Pass<"hybrid-programmatic-dependent-launch", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Every kernel lets the next launch early and waits for the grid before it";
  let description = [{
    Runs on `gpu.module @hybrid_kernels` for sm_90 and later (its one NVVM
    target; anything else is an error). Every kernel starts with
    `nvvm.griddepcontrol launch_dependents`, then `nvvm.griddepcontrol
    wait`. Launched with programmatic stream serialization (the runtime
    does on sm_90 unless `HYBRID_CUDA_PDL=0`), a kernel may then be
    launched and its blocks scheduled while the kernel before it in the
    stream still runs -- once every block of that kernel has passed its
    `launch_dependents` -- and each of its threads waits, before any
    memory access, until the grids before it have completed and their
    writes are visible. Launched normally the wait returns at once, so the
    kernels mean the same either way; what overlaps is the launch and the
    scheduling of a decode step's many small kernels.

    A kernel with `memref.prefetch` ops (the GEMVs' first phase: the start
    of each block's slice of the weights, which no grid writes) waits only
    after its leading computation and prefetches instead: in each
    workgroup loop and branch that holds them, after the prefetches (a
    merged kernel's members each in their loop), and before the first
    other memory access after them, for the threads that skip them, so
    that every thread waits before its first other memory access and
    before it ends. Those prefetches become PTX's `prefetch.L2` (inline PTX), so a
    block launched early fetches its weights into L2 while the grid
    before it runs; prefetches after the wait are erased (its loads
    follow at once).
  }];
  let dependentDialects = [
    "::mlir::LLVM::LLVMDialect",
    "::mlir::NVVM::NVVMDialect",
  ];
}

def ReplaceLibdeviceCallsPass : Pass<"hybrid-replace-libdevice-calls"> {
  let summary = "Replace libdevice calls of fma, floor and rsqrt with LLVM intrinsics";
  let description = [{
    Runs on a GPU module after `convert-gpu-to-nvvm`, which lowers
    `math.fma`, `math.floor` and `math.rsqrt` to calls of libdevice's
    `__nv_fmaf`, `__nv_floorf` and `__nv_rsqrtf`. HybridC links no
    libdevice (it ships with the CUDA toolkit, which compiling must not
    need), so the calls become `llvm.intr.fma`, `llvm.intr.floor` and
    `1 / llvm.intr.sqrt`, single PTX instructions NVPTX selects itself, and
    their declarations go. A call of any other `__nv_` function is an error
    naming it: its math op must be approximated before
    (`hybrid-approximate-math{every-op}`).
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def ApproximateMathPass : Pass<"hybrid-approximate-math", "::mlir::ModuleOp"> {
  let summary = "f32 exp, log1p and log as vectorisable polynomial approximations";
  let description = [{
    Rewrites every f32 `math.exp`, `math.log1p` and `math.log` (scalar or
    vector; log1p's expansion uses log) into
    MLIR's polynomial approximations (range reduction, a minimax
    polynomial, exponent bits set directly; a few ulp, inf, -inf and NaN
    kept). LLVM cannot vectorise a loop around a libm call; around these
    it can, which is what the exp-heavy loops need: the Mamba scan's
    `exp(dt A)` per (token, channel, state), the chunked Gated DeltaNet's
    decays, softmax and SiLU. Other math ops are left alone, unless
    `every-op` is set (the CUDA pipeline: GPU kernels have no libm, and
    HybridC links no libdevice): then sin, cos, tanh, erf, atan, ... are
    approximated too (rsqrt excepted).
  }];
  let options = [
    Option<"everyOp", "every-op", "bool", "false",
           "Also sin, cos, tanh, erf, atan, ... (every op upstream "
           "approximates): for GPU kernels, which have no libm">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::math::MathDialect",
    "::mlir::vector::VectorDialect",
  ];
}

def ConvertHybridDispatchToLLVMPass
    : Pass<"convert-hybrid-dispatch-to-llvm", "::mlir::ModuleOp"> {
  let summary = "Lower hybrid.dispatch to calls of the runtime's executor";
  let description = [{
    Runs after `convert-func-to-llvm`, when kernels are `llvm.func`s. Each
    kernel gets a packed entry `@<kernel>_packed(ptr slots, i64 begin,
    i64 end)` reading its operands (memrefs as expanded descriptors) from
    8-byte slots; each dispatch stores its operands into slots allocated in
    the host's entry block and calls `@hybrid_run_dispatch`, which hands
    the kernel, the slots, the workgroup count and the dispatch's name for
    profiles (its `hybrid.label`, the kernel it was formed for before
    `hybrid-deduplicate-kernels`, else the kernel's name) to the executor
    installed in the exported global `hybrid_executor` (with its
    `hybrid_executor_context`), or runs every workgroup in the calling
    thread when none is installed. The executor's C type is
    `void (*)(void *context, void (*kernel)(void *slots, int64_t begin,
    int64_t end), void *slots, int64_t workgroups, const char *name)`.

    A dispatch of a GPU kernel (`@hybrid_kernels::@k`, after
    `hybrid-kernels-to-gpu` and `gpu-module-to-binary`) stores the
    workgroup count and then its operands' scalars, each zero-extended to
    8 bytes (the kernel's parameters in order), and calls
    `@hybrid_run_gpu_dispatch`, which passes the kernel's name, the
    dispatch's name for profiles (as above), the slots, their count, the
    workgroups, `hybrid.block_size` and
    `hybrid.workgroup_threads` (1 when absent) to the launcher in
    `hybrid_gpu_launcher` (with `hybrid_gpu_context`), trapping when none is
    installed. The plan's buffers are then device memory: the generic
    allocation functions `finalize-memref-to-llvm{use-generic-functions}`
    declares get bodies calling `hybrid_gpu_alloc` and `hybrid_gpu_free`,
    and a plan calling `malloc`, `aligned_alloc` or `free` is an error.

    A module without GPU dispatches (the CPU's): those generic allocation
    functions, where declared, get bodies calling the allocator the runtime
    installed in `hybrid_host_alloc` (`void *(*)(void *context, int64_t
    alignment, int64_t bytes)`) and `hybrid_host_free` (`void (*)(void
    *context, void *block)`), with `hybrid_host_context`, or the C
    library's `malloc`, `aligned_alloc` and `free` when none is installed.
    A module that defines one of them itself is an error.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // HYBRIDC_PASSES_PASSES_TD
