/*===- runtime.h - HybridC runtime C API --------------------------*- C -*-===*\
|*                                                                            *|
|* Loads a .hyb artifact written by hybridc and runs its model. Plain C,     *|
|* stable: every call that can fail returns a hybrid_status (NULL means     *|
|* success) that carries a message and must be freed with                   *|
|* hybrid_status_free. The runtime links neither MLIR nor LLVM.             *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef HYBRID_RUNTIME_H
#define HYBRID_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hybrid_status hybrid_status;
typedef struct hybrid_artifact hybrid_artifact;
typedef struct hybrid_session hybrid_session;

/** The message of a failed call ("<file>: what is wrong"). */
const char *hybrid_status_message(const hybrid_status *status);
void hybrid_status_free(hybrid_status *status);

/** Opens and verifies an artifact file. An artifact compiled with
    --weights=external maps its safetensors files from the checkpoint folder
    it was compiled from, and fails if they changed since. Fails on a CPU
    without one of the features its code was compiled to use (hybridc
    --cpu), naming them. */
hybrid_status *hybrid_artifact_open_file(const char *path,
                                         hybrid_artifact **artifact);
/** The same, reading external weights from `weights_dir` instead (NULL: the
    folder recorded at compile time). Fails for embedded weights. */
hybrid_status *hybrid_artifact_open_file_with_weights(
    const char *path, const char *weights_dir, hybrid_artifact **artifact);
/** Opens an artifact held in memory, e.g. embedded in a program. The bytes
    are verified and used in place: they must outlive the artifact. */
hybrid_status *hybrid_artifact_open_memory(const void *data, size_t size,
                                           hybrid_artifact **artifact);
void hybrid_artifact_free(hybrid_artifact *artifact);

/** Where the artifact's kernels run: "cpu", or "cuda" for an artifact
    compiled with hybridc --target=cuda. Opening a CUDA artifact opens
    CUDA device 0 (through libcuda.so.1, loaded at run time) and copies the
    weights into its memory; without an NVIDIA driver or GPU the open fails
    with a message saying so. Device memory the artifact's sessions and
    calls release is kept for reuse until the artifact is freed; so is a
    CPU artifact's call buffers' memory (at most the most its calls ever
    had in use at once). */
const char *hybrid_artifact_device(const hybrid_artifact *artifact);
/** The device's name, e.g. "NVIDIA H100 80GB HBM3 (sm_90)", or "CPU". */
const char *hybrid_artifact_device_name(const hybrid_artifact *artifact);

/** Runs the artifact's kernels on `threads` threads, the calling one
    included (0, the default: every core this process may use). Not to be
    called while a prefill or decode of this artifact runs. Fails for a
    CUDA artifact. */
hybrid_status *hybrid_artifact_set_threads(hybrid_artifact *artifact,
                                           int32_t threads);
/** The threads the artifact's kernels run on. */
int32_t hybrid_artifact_threads(const hybrid_artifact *artifact);

/** Times every kernel dispatch from now on (clearing earlier times), or
    stops timing (on a CUDA artifact: CUDA events around each launch). hybrid_artifact_set_threads starts a new executor and so
    ends timing. */
hybrid_status *hybrid_artifact_profile(hybrid_artifact *artifact, int enabled);
/** Writes what was timed: a table with one row per kernel (calls,
    workgroups, total and mean time, share of all dispatch time) to
    `table_path` ("-": standard output), and the dispatches as a Chrome trace
    (chrome://tracing, Perfetto) to `trace_path`. Either may be NULL. */
hybrid_status *hybrid_artifact_write_profile(const hybrid_artifact *artifact,
                                             const char *table_path,
                                             const char *trace_path);

/** The model's vocabulary size (the width of a row of logits). */
int64_t hybrid_artifact_vocab_size(const hybrid_artifact *artifact);
/** The most positions one sequence can hold. */
int64_t hybrid_artifact_max_seq_len(const hybrid_artifact *artifact);
/** Sequences one decode call advances together (hybridc --max-batch). A
    session may hold more: they are run max_batch at a time. */
int64_t hybrid_artifact_max_batch(const hybrid_artifact *artifact);

/** A session of `sequences` independent sequences, each with its own
    per-sequence state (KV caches, conv windows, recurrent states). */
hybrid_status *hybrid_session_create(hybrid_artifact *artifact,
                                     int32_t sequences,
                                     hybrid_session **session);
void hybrid_session_free(hybrid_session *session);

/** Which logits hybrid_prefill computes in this session: by default
    (all = 0) only the last prompt token's, which generation continues from
    (the last layer's feed-forward block, the final norm and the LM head
    then run on that one row); all = 1: a
    row for every prompt token (to score a text, or compare with a
    reference). Decode always gives each sequence its one row. */
void hybrid_session_prompt_logits(hybrid_session *session, int all);

/** Runs `count` tokens of one sequence from its current position (0 for a
    new sequence; a later call continues from where the last one ended). */
hybrid_status *hybrid_prefill(hybrid_session *session, int32_t sequence,
                              const int64_t *tokens, int64_t count);
/** One token for each sequence of the session (tokens[sequences]): one
    call of the compiled code per max_batch sequences. Every sequence is
    checked first; on an error none has advanced. */
hybrid_status *hybrid_decode(hybrid_session *session, const int64_t *tokens);
/** The logits of the last call that ran `sequence`: `rows` x vocab floats,
    valid until the next call. After hybrid_prefill one row (its last
    token's), or one per token (hybrid_session_prompt_logits); after
    hybrid_decode one. */
hybrid_status *hybrid_logits(hybrid_session *session, int32_t sequence,
                             const float **logits, int64_t *rows);
/** Positions a sequence has consumed. */
int64_t hybrid_sequence_position(const hybrid_session *session,
                                 int32_t sequence);
/** Forgets a sequence: its state is zeroed and its position is 0. */
hybrid_status *hybrid_sequence_reset(hybrid_session *session,
                                     int32_t sequence);

/* State snapshots: a sequence's whole state (KV and latent caches, conv
   windows, recurrent states), its position and its last logits, copied. For
   prefix caching (restore a prompt's state instead of prefilling it again)
   and rollback (restore the state before rejected tokens). */
typedef struct hybrid_snapshot hybrid_snapshot;

/** Copies the state of `sequence`. */
hybrid_status *hybrid_sequence_snapshot(hybrid_session *session,
                                        int32_t sequence,
                                        hybrid_snapshot **snapshot);
/** Makes `sequence` (of any session of an artifact with the same state
    table) continue from `snapshot`. */
hybrid_status *hybrid_sequence_restore(hybrid_session *session,
                                       int32_t sequence,
                                       const hybrid_snapshot *snapshot);
/** Makes sequence `to` an independent copy of sequence `from`. */
hybrid_status *hybrid_sequence_fork(hybrid_session *session, int32_t from,
                                    int32_t to);
/** The position a snapshot continues from. */
int64_t hybrid_snapshot_position(const hybrid_snapshot *snapshot);
/** Writes a snapshot to a file (replaced atomically, ending with a checksum
    of its bytes), and reads one back for `artifact`; a file of another
    state table, or whose bytes differ from its checksum, is refused. */
hybrid_status *hybrid_snapshot_save(const hybrid_snapshot *snapshot,
                                    const char *path);
hybrid_status *hybrid_snapshot_load(const hybrid_artifact *artifact,
                                    const char *path,
                                    hybrid_snapshot **snapshot);
void hybrid_snapshot_free(hybrid_snapshot *snapshot);

#ifdef __cplusplus
}
#endif

#endif /* HYBRID_RUNTIME_H */
