//===- runtime.cpp - HybridC runtime: artifact, session, calls ------------===//
//
// Verifies an artifact before following any offset in it, maps its shared
// object from memory (memfd + dlopen), allocates per-sequence state from the
// artifact's argument table and calls the compiled entry point. No model
// math lives here: the kernels are in the artifact. A CUDA artifact's
// entry point is the host plan: its weights, states and buffers are in the
// GPU's memory and its kernels run on the CUDA device.
//
//===----------------------------------------------------------------------===//

#include "hybrid/runtime.h"

#include "CudaDevice.h"
#include "Executor.h"
#include "HostPool.h"

#include "runtime/schemas/artifact_format.h"
#include "runtime/schemas/artifact_generated.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace fa = hybrid::artifact;

struct hybrid_status {
  std::string message;
};

namespace {

hybrid_status *fail(std::string message) {
  return new hybrid_status{std::move(message)};
}

int64_t elementBytes(fa::ElementType type) {
  switch (type) {
  case fa::ElementType::F32:
    return 4;
  case fa::ElementType::F16:
  case fa::ElementType::BF16:
    return 2;
  case fa::ElementType::F8E4M3FN:
    return 1;
  case fa::ElementType::I64:
    return 8;
  }
  return 0;
}

/// Bytes of a (state) argument: its element size times its static shape.
uint64_t argumentBytes(const fa::Argument *arg) {
  uint64_t bytes = elementBytes(arg->element_type());
  for (int64_t d : *arg->shape())
    bytes *= d;
  return bytes;
}

/// A buffer aligned for vector loads, zero-initialised.
struct AlignedBuffer {
  void *data = nullptr;
  size_t size = 0;
  explicit AlignedBuffer(size_t bytes) : size(bytes) {
    size_t rounded = (bytes + 63) / 64 * 64;
    data = std::aligned_alloc(64, rounded ? rounded : 64);
    if (data)
      std::memset(data, 0, rounded ? rounded : 64);
  }
  AlignedBuffer(AlignedBuffer &&other) noexcept
      : data(other.data), size(other.size) {
    other.data = nullptr;
  }
  ~AlignedBuffer() { std::free(data); }
};

/// The memref descriptor returned by the entry point for the logits.
struct LogitsDescriptor {
  void *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
};
using EntryPoint = void (*)(void **arguments, void *result);
} // namespace

/// A read-only file mapping.
struct MappedFile {
  void *data = nullptr;
  size_t size = 0;
  MappedFile() = default;
  MappedFile(MappedFile &&other) noexcept : data(other.data), size(other.size) {
    other.data = nullptr;
  }
  ~MappedFile() {
    if (data)
      munmap(data, size);
  }
};

struct hybrid_artifact {
  std::string name;
  MappedFile file; // when opened from a file
  const uint8_t *bytes = nullptr;
  const fa::Artifact *root = nullptr;
  /// The embedded weights' section (artifact_format.h's layout).
  const uint8_t *weightBytes = nullptr;
  int memfd = -1;
  void *library = nullptr;
  EntryPoint entry = nullptr;
  // External weights: the mapped safetensors files, and copies of weights
  // whose tensors are not one aligned range (stacked experts).
  std::vector<MappedFile> weightFiles;
  std::vector<AlignedBuffer> weightCopies;
  /// Per argument of a CPU artifact: its weight's bytes (null for other
  /// arguments, and for every argument of a CUDA artifact).
  std::vector<const void *> weights;
  /// Runs the dispatches of the generated code; installed in its globals.
  std::unique_ptr<hybrid::runtime::Executor> executor;
  /// A CPU artifact's plan's buffers (installed in its globals when its
  /// code allocates through them).
  std::unique_ptr<hybrid::runtime::HostPool> pool;
  /// A CUDA artifact's device, and its weights in device memory (per
  /// argument, null for other arguments).
  std::unique_ptr<hybrid::runtime::CudaDevice> cuda;
  std::vector<void *> deviceWeights;

  ~hybrid_artifact() {
    for (void *weight : deviceWeights)
      cuda->release(weight);
    cuda.reset();
    if (library)
      dlclose(library);
    if (memfd >= 0)
      close(memfd);
  }
};

struct Sequence {
  int64_t position = 0;
  std::vector<float> logits;
  int64_t rows = 0;
};

/// A state buffer, zeroed: host memory, or device memory when `device` is
/// given. Reads and writes copy between it and host memory.
class StateBuffer {
public:
  StateBuffer(size_t bytes, hybrid::runtime::CudaDevice *device)
      : device_(device), host_(device ? 0 : bytes), size_(bytes) {
    if (device_) {
      data_ = device_->allocate(bytes);
      if (data_ && !device_->zero(data_, bytes)) {
        device_->release(data_);
        data_ = nullptr;
      }
    } else {
      data_ = host_.data;
    }
  }
  StateBuffer(StateBuffer &&other) noexcept
      : device_(other.device_), host_(std::move(other.host_)),
        data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
  }
  StateBuffer &operator=(StateBuffer &&) = delete;
  ~StateBuffer() {
    if (device_)
      device_->release(data_);
  }
  void *data() const { return data_; }
  size_t size() const { return size_; }
  bool zero(size_t offset, size_t bytes) {
    if (device_)
      return device_->zero(at(offset), bytes);
    std::memset(at(offset), 0, bytes);
    return true;
  }
  bool read(size_t offset, void *to, size_t bytes) const {
    if (device_)
      return device_->download(to, at(offset), bytes);
    std::memcpy(to, at(offset), bytes);
    return true;
  }
  bool write(size_t offset, const void *from, size_t bytes) {
    if (device_)
      return device_->upload(at(offset), from, bytes);
    std::memcpy(at(offset), from, bytes);
    return true;
  }

private:
  uint8_t *at(size_t offset) const {
    return static_cast<uint8_t *>(data_) + offset;
  }
  hybrid::runtime::CudaDevice *device_;
  AlignedBuffer host_;
  void *data_ = nullptr;
  size_t size_;
};

/// The state buffers of up to max_batch sequences: sequence i of a session
/// lives in group i / max_batch at slot i % max_batch.
struct StateGroup {
  std::vector<StateBuffer> states;
};

struct hybrid_session {
  hybrid_artifact *artifact;
  int64_t batch = 1; // the artifact's max_batch
  bool allPromptLogits = false; // hybrid_session_prompt_logits
  std::vector<Sequence> sequences;
  std::vector<StateGroup> groups;
};

extern "C" {

const char *hybrid_status_message(const hybrid_status *status) {
  return status ? status->message.c_str() : "success";
}
void hybrid_status_free(hybrid_status *status) { delete status; }

} // extern "C"

namespace {
/// The artifact checksum (artifact_format.h) of `size` bytes, its blocks
/// on all the cores the process may use: a file of gigabytes is read at
/// the speed of memory or storage, not of one core.
uint64_t artifactChecksum(const uint8_t *bytes, size_t size) {
  using fa::ArtifactChecksummer;
  size_t blocks = ArtifactChecksummer::blockCount(size);
  std::vector<uint64_t> sums(blocks);
  size_t threads = std::min<size_t>(
      blocks, std::max(1, hybrid::runtime::Executor::availableCores()));
  auto sumBlocks = [&](size_t first) {
    for (size_t b = first; b < blocks; b += threads) {
      size_t begin = b * fa::kChecksumBlock;
      sums[b] = fa::bytesChecksum(bytes + begin,
                                  std::min(fa::kChecksumBlock, size - begin));
    }
  };
  // A thread the system refuses leaves its blocks to this one: never an
  // exception through the C API.
  std::vector<std::thread> helpers;
  std::vector<size_t> left;
  for (size_t t = 1; t < threads; ++t) {
    try {
      helpers.emplace_back(sumBlocks, t);
    } catch (const std::system_error &) {
      left.push_back(t);
    }
  }
  sumBlocks(0);
  for (size_t t : left)
    sumBlocks(t);
  for (std::thread &helper : helpers)
    helper.join();
  return ArtifactChecksummer::combine(sums, size);
}

/// Whether this CPU has `feature`, one of HYBRID_CPU_FEATURES (and the OS
/// saves its registers, which __builtin_cpu_supports also asks);
/// std::nullopt for a name this runtime does not know.
std::optional<bool> cpuSupports(std::string_view feature) {
  __builtin_cpu_init();
#define HYBRID_CPU_SUPPORTS(name)                                              \
  if (feature == name)                                                         \
    return __builtin_cpu_supports(name) != 0;
  HYBRID_CPU_FEATURES(HYBRID_CPU_SUPPORTS)
#undef HYBRID_CPU_SUPPORTS
  return std::nullopt;
}

/// The code of `exe` may use every feature it records: on a CPU without
/// one it would stop on an illegal instruction somewhere in a call.
hybrid_status *checkCpuFeatures(const std::string &name, const fa::Executable &exe) {
  if (!exe.cpu() || !exe.cpu_features())
    return fail(name + ": artifact has no CPU or CPU feature list for its code");
  std::string lacking;
  for (const flatbuffers::String *feature : *exe.cpu_features()) {
    std::optional<bool> has = cpuSupports(feature->string_view());
    if (!has)
      return fail(name + ": its code needs the CPU feature '" + feature->str() +
                  "', which this runtime cannot check; recompile it");
    if (!*has)
      lacking += (lacking.empty() ? "" : ", ") + feature->str();
  }
  if (lacking.empty())
    return nullptr;
  return fail(name + ": compiled for CPU '" + exe.cpu()->str() + "', its code may use " +
              lacking + ", which this CPU does not have; compile it for this "
              "one (hybridc --cpu=native here, or --cpu=x86-64-v3 for any "
              "x86-64 CPU with AVX2 and FMA)");
}

/// Checks what the flatbuffer verifier cannot: versions, the argument table
/// and that every weight lies inside the embedded weights.
hybrid_status *validate(hybrid_artifact &a, size_t size) {
  // The layout of artifact_format.h: [size N][flatbuffer, N bytes] zeros
  // [weights] [checksum].
  if (size >= 8 && fa::ArtifactBufferHasIdentifier(a.bytes))
    return fail(a.name + ": an artifact of an earlier HybridC (version 9 or "
                         "before: the weights inside the flatbuffer); this "
                         "runtime reads version " +
                std::to_string(fa::kArtifactVersion) + "; recompile it");
  if (size < 12 || !fa::SizePrefixedArtifactBufferHasIdentifier(a.bytes))
    return fail(a.name + ": not a HybridC artifact (no HYBC identifier)");
  uint32_t flatbufferSize;
  std::memcpy(&flatbufferSize, a.bytes, 4); // little-endian, as on x86-64
  size_t prefixed = 4 + static_cast<size_t>(flatbufferSize);
  if (prefixed > size - fa::kChecksumBytes)
    return fail(a.name + ": corrupted artifact: its flatbuffer runs past the "
                         "file's end (truncated?)");
  flatbuffers::Verifier verifier(a.bytes, prefixed, /*max_depth=*/64,
                                 /*max_tables=*/10000000);
  if (!fa::VerifySizePrefixedArtifactBuffer(verifier))
    return fail(a.name + ": corrupted artifact: the flatbuffer does not verify");
  a.root = fa::GetSizePrefixedArtifact(a.bytes);
  if (a.root->version() != fa::kArtifactVersion)
    return fail(a.name + ": artifact version " +
                std::to_string(a.root->version()) + ", this runtime reads " +
                std::to_string(fa::kArtifactVersion) + "; recompile it");
  // The weights section fills the file from its offset to the checksum.
  size_t checked = size - fa::kChecksumBytes;
  const fa::WeightsSection *weights = a.root->weights();
  if (!weights || weights->offset() % fa::kWeightsAlignment != 0 ||
      weights->offset() < prefixed || weights->offset() > checked)
    return fail(a.name + ": corrupted artifact: its weights section does not "
                         "begin at a page boundary between the flatbuffer and "
                         "the checksum");
  if (weights->size() != checked - weights->offset())
    return fail(a.name + ": corrupted artifact: it has " + std::to_string(size) +
                " bytes, but its weights section ends " +
                std::to_string(weights->size()) + " bytes after byte " +
                std::to_string(weights->offset()) +
                ", with 8 bytes of checksum after it (truncated, or bytes "
                "appended?)");
  // Damaged code must not run, damaged weights or offsets must not give
  // plausible numbers: the whole file against the compiler's checksum.
  uint64_t recorded;
  std::memcpy(&recorded, a.bytes + checked, fa::kChecksumBytes);
  if (artifactChecksum(a.bytes, checked) != recorded)
    return fail(a.name + ": corrupted artifact: its bytes differ from the "
                         "checksum the compiler recorded (damaged in storage "
                         "or transfer); copy or compile it again");
  a.weightBytes = a.bytes + weights->offset();
  const fa::ModelConfig *config = a.root->config();
  if (!config || config->vocab_size() <= 0 || config->max_seq_len() <= 0)
    return fail(a.name + ": artifact has no model config");
  const fa::Executable *exe = a.root->executable();
  if (!exe || !exe->data() || exe->data()->size() == 0 || !exe->entry())
    return fail(a.name + ": artifact has no executable");
  if (hybrid_status *status = checkCpuFeatures(a.name, *exe))
    return status;
  if (!a.root->arguments())
    return fail(a.name + ": artifact has no argument table");
  if (const fa::CudaKernels *cuda = a.root->cuda())
    if (!cuda->arch() || !cuda->ptx() || cuda->ptx()->size() == 0)
      return fail(a.name + ": CUDA artifact without its kernels' PTX");
  uint64_t weightsSize = weights->size();
  const auto *files = a.root->weight_files();
  if (files) {
    if (!a.root->weights_dir())
      return fail(a.name + ": external weights without a weights folder");
    for (const fa::WeightFile *file : *files) {
      std::string fileName = file->name() ? file->name()->str() : "";
      if (fileName.empty() || fileName.find('/') != std::string::npos ||
          fileName == "." || fileName == "..")
        return fail(a.name + ": external weight file name '" + fileName +
                    "' is not a file name");
    }
  }
  int tokens = 0, positions = 0, slots = 0, logitRows = 0, sequences = 0, callStarts = 0;
  int64_t batch = config->max_batch();
  if (batch < 1 || batch > 1024)
    return fail(a.name + ": artifact has an invalid max_batch " +
                std::to_string(batch));
  for (const fa::Argument *arg : *a.root->arguments()) {
    if (!arg->shape() || !arg->name())
      return fail(a.name + ": argument without a shape or name");
    int64_t elements = 1;
    for (int64_t d : *arg->shape()) {
      if (d == -1 && (arg->kind() == fa::ArgumentKind::Tokens ||
                      arg->kind() == fa::ArgumentKind::Positions ||
                      arg->kind() == fa::ArgumentKind::Slots ||
                      arg->kind() == fa::ArgumentKind::LogitRows ||
                      arg->kind() == fa::ArgumentKind::Sequences ||
                      arg->kind() == fa::ArgumentKind::CallStart))
        continue;
      if (d <= 0 || d > (int64_t(1) << 40) / elements)
        return fail(a.name + ": argument '" + arg->name()->str() +
                    "' has an invalid shape");
      elements *= d;
    }
    switch (arg->kind()) {
    case fa::ArgumentKind::Tokens:
      ++tokens;
      break;
    case fa::ArgumentKind::Positions:
      ++positions;
      break;
    case fa::ArgumentKind::Slots:
      ++slots;
      break;
    case fa::ArgumentKind::LogitRows:
      ++logitRows;
      break;
    case fa::ArgumentKind::Sequences:
      ++sequences;
      break;
    case fa::ArgumentKind::CallStart:
      ++callStarts;
      break;
    default:
      // A table from another writer (the checksum covers only damage):
      // binding it would pass the plan nothing.
      return fail(a.name + ": argument '" + arg->name()->str() + "' has an unknown kind " +
                  std::to_string(static_cast<int>(arg->kind())));
    case fa::ArgumentKind::State:
      // Batched state: one slot per sequence in the leading dimension.
      if (batch > 1 && (arg->shape()->size() < 2 || arg->shape()->Get(0) != batch))
        return fail(a.name + ": state '" + arg->name()->str() +
                    "' has no leading dimension of max_batch " +
                    std::to_string(batch));
      break;
    case fa::ArgumentKind::Weight: {
      uint64_t bytes = elements * elementBytes(arg->element_type());
      if (files) {
        // One piece, or one per expert, together exactly the weight.
        const auto *pieces = arg->pieces();
        uint64_t count = arg->experts() > 0 ? arg->experts() : 1;
        bool ok = pieces && pieces->size() == count;
        for (size_t p = 0; ok && p < pieces->size(); ++p) {
          const fa::WeightPiece *piece = pieces->Get(p);
          ok = piece->file() < files->size() && piece->size() == bytes / count &&
               piece->offset() <= files->Get(piece->file())->size() &&
               piece->size() <=
                   files->Get(piece->file())->size() - piece->offset();
        }
        if (!ok)
          return fail(a.name + ": weight '" + arg->name()->str() +
                      "' lies outside its external weight files");
        break;
      }
      if (arg->weight_size() != bytes ||
          arg->weight_offset() > weightsSize ||
          arg->weight_size() > weightsSize - arg->weight_offset())
        return fail(a.name + ": weight '" + arg->name()->str() +
                    "' lies outside the embedded weights");
      break;
    }
    }
  }
  if (tokens != 1 || positions != 1 || logitRows != 1)
    return fail(a.name + ": argument table needs one token, one position "
                         "and one logit rows argument");
  if (callStarts > 1)
    return fail(a.name + ": argument table has more than one call_start argument");
  if (slots != (batch > 1 ? 1 : 0) || sequences != slots)
    return fail(a.name + ": argument table needs " +
                std::string(batch > 1 ? "one slots and one sequences argument"
                                      : "no slots or sequences argument") +
                " for max_batch " + std::to_string(batch));
  return nullptr;
}

hybrid_status *loadExecutable(hybrid_artifact &a) {
  const fa::Executable *exe = a.root->executable();
  a.memfd = memfd_create("hybrid-kernels", MFD_CLOEXEC);
  if (a.memfd < 0)
    return fail(a.name + ": memfd_create failed: " + std::strerror(errno));
  const uint8_t *data = exe->data()->data();
  size_t left = exe->data()->size();
  while (left) {
    ssize_t n = write(a.memfd, data, left);
    if (n <= 0)
      return fail(a.name + ": cannot stage the executable: " +
                  std::strerror(errno));
    data += n;
    left -= n;
  }
  std::string path = "/proc/self/fd/" + std::to_string(a.memfd);
  a.library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!a.library)
    return fail(a.name + ": the executable does not load: " + dlerror());
  a.entry = reinterpret_cast<EntryPoint>(
      dlsym(a.library, exe->entry()->c_str()));
  if (!a.entry)
    return fail(a.name + ": the executable has no entry '" +
                exe->entry()->str() + "'");
  return nullptr;
}

/// Maps the external weight files of `a` from `dir` and checks that they
/// are the files the artifact was compiled from.
hybrid_status *mapWeightFiles(hybrid_artifact &a, const std::string &dir) {
  for (const fa::WeightFile *file : *a.root->weight_files()) {
    std::string path = dir + "/" + file->name()->str();
    std::string what = " (external weights of " + a.name + ")";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return fail(path + ": cannot open: " + std::strerror(errno) + what);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      return fail(path + ": not a readable file" + what);
    }
    if (static_cast<uint64_t>(st.st_size) != file->size()) {
      close(fd);
      return fail(path + ": has " + std::to_string(st.st_size) +
                  " bytes, but " + std::to_string(file->size()) +
                  " when the artifact was compiled; recompile" + what);
    }
    MappedFile mapped;
    mapped.size = static_cast<size_t>(st.st_size);
    mapped.data = mmap(nullptr, mapped.size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (mapped.data == MAP_FAILED) {
      mapped.data = nullptr;
      return fail(path + ": cannot map: " + std::strerror(errno) + what);
    }
    const auto *bytes = static_cast<const uint8_t *>(mapped.data);
    uint64_t headerLength = 0;
    if (mapped.size >= 8)
      std::memcpy(&headerLength, bytes, 8); // little-endian, as on x86-64
    if (mapped.size < 8 || headerLength > mapped.size - 8 ||
        fa::bytesChecksum(bytes, 8 + headerLength) != file->header_checksum())
      return fail(path + ": its safetensors header differs from the one the "
                         "artifact was compiled against; recompile" + what);
    a.weightFiles.push_back(std::move(mapped));
  }
  return nullptr;
}

/// The bytes of weight argument `arg`, in order: one range in the artifact
/// or a mapped safetensors file, or one per expert (a checkpoint stores
/// each expert's tensor apart; the kernels take them stacked).
std::vector<std::span<const uint8_t>> weightPieces(const hybrid_artifact &a,
                                                   const fa::Argument *arg) {
  if (!a.root->weight_files())
    return {{a.weightBytes + arg->weight_offset(), arg->weight_size()}};
  std::vector<std::span<const uint8_t>> pieces;
  for (const fa::WeightPiece *piece : *arg->pieces())
    pieces.emplace_back(
        static_cast<const uint8_t *>(a.weightFiles[piece->file()].data) +
            piece->offset(),
        piece->size());
  return pieces;
}

/// Points every weight argument of a CPU artifact at its bytes: in the
/// artifact, in a mapped safetensors file, or in a copy when a weight's
/// tensors are not one element-aligned range (experts stacked). A CUDA
/// artifact's weights go to the device from their pieces (openCuda): no
/// host copy.
hybrid_status *bindWeights(hybrid_artifact &a, const char *weightsDir) {
  const auto *arguments = a.root->arguments();
  a.weights.assign(arguments->size(), nullptr);
  if (a.root->weight_files()) {
    std::string dir = weightsDir ? weightsDir : a.root->weights_dir()->str();
    if (hybrid_status *s = mapWeightFiles(a, dir))
      return s;
  }
  if (a.root->cuda())
    return nullptr;
  for (size_t i = 0; i < arguments->size(); ++i) {
    const fa::Argument *arg = arguments->Get(i);
    if (arg->kind() != fa::ArgumentKind::Weight)
      continue;
    std::vector<std::span<const uint8_t>> pieces = weightPieces(a, arg);
    int64_t align = elementBytes(arg->element_type());
    if (pieces.size() == 1 &&
        reinterpret_cast<uintptr_t>(pieces[0].data()) % align == 0) {
      a.weights[i] = pieces[0].data();
      continue;
    }
    AlignedBuffer copy(argumentBytes(arg));
    if (!copy.data)
      return fail(a.name + ": cannot allocate " +
                  std::to_string(argumentBytes(arg)) + " bytes for weight '" +
                  arg->name()->str() + "'");
    uint8_t *at = static_cast<uint8_t *>(copy.data);
    for (std::span<const uint8_t> piece : pieces)
      at = std::copy(piece.begin(), piece.end(), at);
    a.weights[i] = copy.data;
    a.weightCopies.push_back(std::move(copy));
  }
  return nullptr;
}

/// Gives the generated code an executor of `threads` threads (0: every
/// core). Code without dispatches has no executor globals and runs serially.
hybrid_status *installExecutor(hybrid_artifact &a, int32_t threads) {
  auto *executor = static_cast<void **>(dlsym(a.library, "hybrid_executor"));
  auto *context =
      static_cast<void **>(dlsym(a.library, "hybrid_executor_context"));
  if (!executor || !context)
    return nullptr;
  using hybrid::runtime::Executor;
  int count = threads > 0 ? threads : Executor::availableCores();
  *executor = nullptr; // serial while the old executor goes
  a.executor = std::make_unique<Executor>(count);
  *context = a.executor.get();
  *executor = reinterpret_cast<void *>(&Executor::entry);
  return nullptr;
}

/// Gives a CPU artifact's plan the runtime's pool for its buffers. Code
/// that allocates nothing, or was compiled without the hooks, has no
/// globals for it and keeps the C library's allocator.
void installHostPool(hybrid_artifact &a) {
  using hybrid::runtime::HostPool;
  auto *alloc = static_cast<void **>(dlsym(a.library, "hybrid_host_alloc"));
  auto *release = static_cast<void **>(dlsym(a.library, "hybrid_host_free"));
  auto *context = static_cast<void **>(dlsym(a.library, "hybrid_host_context"));
  if (!alloc || !release || !context)
    return;
  a.pool = std::make_unique<HostPool>();
  *context = a.pool.get();
  *alloc = reinterpret_cast<void *>(&HostPool::allocateEntry);
  *release = reinterpret_cast<void *>(&HostPool::releaseEntry);
}

/// Frees a buffer the plan returned (the logits).
void releaseResult(const hybrid_artifact &a, void *block) {
  if (a.pool)
    a.pool->release(block);
  else
    std::free(block);
}

/// Reads the environment's 0-or-1 switch `name` into `value` (left as it is
/// when unset); false, with `error`, for any other value.
bool readSwitch(const char *name, bool &value, std::string &error) {
  const char *text = std::getenv(name);
  if (!text)
    return true;
  std::string given = text;
  if (given != "0" && given != "1") {
    error = std::string(name) + ": expected 0 or 1, got '" + given + "'";
    return false;
  }
  value = given == "1";
  return true;
}

/// A CUDA artifact: opens the device, installs its launcher and allocator
/// in the host plan's globals and copies the weights into device memory.
hybrid_status *openCuda(hybrid_artifact &a) {
  using hybrid::runtime::CudaDevice;
  const fa::CudaKernels *kernels = a.root->cuda();
  std::string arch = kernels->arch()->str();
  std::string error;
  a.cuda = CudaDevice::open(
      0, arch, kernels->ptx()->str(),
      kernels->cubin() ? kernels->cubin()->data() : nullptr,
      kernels->cubin() ? kernels->cubin()->size() : 0, error);
  if (!a.cuda)
    return fail(a.name + ": compiled for CUDA (" + arch + "): " + error);
  // Repeated calls (decode steps) go as CUDA graphs, and kernels that wait
  // for the grid before them go early, unless these say no.
  bool graphs = true, early = true;
  if (!readSwitch("HYBRID_CUDA_GRAPHS", graphs, error) ||
      !readSwitch("HYBRID_CUDA_PDL", early, error))
    return fail(a.name + ": " + error);
  a.cuda->useGraphs(graphs);
  a.cuda->useProgrammaticLaunch(early && kernels->programmatic_launch());
  struct Hook {
    const char *name;
    void *value;
  };
  for (Hook hook :
       {Hook{"hybrid_gpu_launcher", reinterpret_cast<void *>(&CudaDevice::launchEntry)},
        Hook{"hybrid_gpu_alloc", reinterpret_cast<void *>(&CudaDevice::allocateEntry)},
        Hook{"hybrid_gpu_free", reinterpret_cast<void *>(&CudaDevice::releaseEntry)},
        Hook{"hybrid_gpu_context", a.cuda.get()}}) {
    auto *global = static_cast<void **>(dlsym(a.library, hook.name));
    if (!global)
      return fail(a.name + ": the CUDA artifact's host code has no '" +
                  hook.name + "'");
    *global = hook.value;
  }
  // Each weight from its pieces (an external checkpoint's experts stacked
  // as they go), straight from the mapped artifact or files.
  const auto *arguments = a.root->arguments();
  a.deviceWeights.assign(arguments->size(), nullptr);
  for (size_t i = 0; i < arguments->size(); ++i) {
    const fa::Argument *arg = arguments->Get(i);
    // A weight of no bytes has no buffer (a null pointer, as any empty one).
    if (arg->kind() != fa::ArgumentKind::Weight || argumentBytes(arg) == 0)
      continue;
    a.deviceWeights[i] = a.cuda->allocate(argumentBytes(arg));
    bool copied = a.deviceWeights[i] != nullptr;
    auto *at = static_cast<uint8_t *>(a.deviceWeights[i]);
    for (std::span<const uint8_t> piece : weightPieces(a, arg)) {
      copied = copied && a.cuda->upload(at, piece.data(), piece.size());
      at += piece.size();
    }
    if (!copied)
      return fail(a.name + ": copying weight '" + arg->name()->str() +
                  "' to " + a.cuda->description() + ": " + a.cuda->error());
  }
  return nullptr;
}

hybrid_status *open(std::unique_ptr<hybrid_artifact> a, size_t size,
                    const char *weightsDir, hybrid_artifact **out) {
  if (hybrid_status *s = validate(*a, size))
    return s;
  if (weightsDir && !a->root->weight_files())
    return fail(a->name + ": its weights are embedded; a weights folder "
                          "applies only to artifacts compiled with "
                          "--weights=external");
  if (hybrid_status *s = loadExecutable(*a))
    return s;
  if (hybrid_status *s = bindWeights(*a, weightsDir))
    return s;
  if (hybrid_status *s = a->root->cuda() ? openCuda(*a) : installExecutor(*a, 0))
    return s;
  if (!a->root->cuda())
    installHostPool(*a);
  *out = a.release();
  return nullptr;
}

/// The CUDA device's failure, reported once (the device is ready for the
/// next call).
hybrid_status *deviceFailure(hybrid_session *session) {
  hybrid::runtime::CudaDevice &cuda = *session->artifact->cuda;
  std::string error = cuda.error();
  cuda.clearError();
  return fail(session->artifact->name + ": " + cuda.description() + ": " +
              error);
}

/// Checks that `count` more tokens fit sequence `index` and are in the
/// vocabulary.
hybrid_status *checkTokens(hybrid_session *session, int32_t index,
                           const int64_t *tokens, int64_t count) {
  hybrid_artifact &a = *session->artifact;
  if (index < 0 || index >= static_cast<int32_t>(session->sequences.size()))
    return fail("sequence " + std::to_string(index) + " is not in the session");
  if (count <= 0)
    return fail("no tokens to run");
  const fa::ModelConfig *config = a.root->config();
  int64_t vocab = config->vocab_size();
  Sequence &seq = session->sequences[index];
  if (seq.position + count > config->max_seq_len())
    return fail("sequence " + std::to_string(index) + " would reach position " +
                std::to_string(seq.position + count) +
                ", past the artifact's max_seq_len " +
                std::to_string(config->max_seq_len()));
  for (int64_t i = 0; i < count; ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab)
      return fail("token id " + std::to_string(tokens[i]) +
                  " is outside the vocabulary [0, " + std::to_string(vocab) +
                  ")");
  return nullptr;
}

/// One call of the entry point on the state of `group`: token i is at
/// `positions[i]` of the sequence in slot `slots[i]`. Returns the logits of
/// the tokens `logitRows`, [logitRows, vocab].
hybrid_status *call(hybrid_session *session, StateGroup &group,
                    std::vector<int64_t> ids, std::vector<int64_t> positions,
                    std::vector<int64_t> slots, std::vector<int64_t> logitRows,
                    std::vector<float> &logits) {
  hybrid_artifact &a = *session->artifact;
  hybrid::runtime::CudaDevice *cuda = a.cuda.get();
  int64_t count = static_cast<int64_t>(ids.size());
  int64_t rowCount = static_cast<int64_t>(logitRows.size());
  std::vector<int64_t> distinct(slots);
  std::sort(distinct.begin(), distinct.end());
  int64_t sequenceCount =
      std::unique(distinct.begin(), distinct.end()) - distinct.begin();
  // The compiled code's contract (hybridc --max-batch): a call holds one
  // sequence's tokens or one token of each of several sequences.
  if (sequenceCount > 1 && sequenceCount != count)
    return fail("internal error: a call of " + std::to_string(sequenceCount) +
                " sequences with " + std::to_string(count) + " tokens");
  int64_t vocab = a.root->config()->vocab_size();
  // On the CUDA device the kernels read the token inputs from device
  // memory: copies of them for this call, freed when it returns.
  std::vector<void *> inputs;
  struct Release {
    hybrid::runtime::CudaDevice *cuda;
    std::vector<void *> &inputs;
    ~Release() {
      for (void *input : inputs)
        cuda->release(input);
    }
  } release{cuda, inputs};
  auto input = [&](std::vector<int64_t> &values) -> void * {
    if (!cuda)
      return values.data();
    size_t bytes = values.size() * sizeof(int64_t);
    void *device = cuda->allocate(bytes);
    inputs.push_back(device);
    if (device && !cuda->upload(device, values.data(), bytes))
      return nullptr;
    return device;
  };
  // Each memref argument expands to (allocated, aligned, offset, sizes...,
  // strides...); the entry point reads each value through a pointer.
  std::vector<int64_t> values;
  size_t state = 0, argument = 0;
  for (const fa::Argument *arg : *a.root->arguments()) {
    void *data = nullptr;
    switch (arg->kind()) {
    case fa::ArgumentKind::Tokens:
      data = input(ids);
      break;
    case fa::ArgumentKind::Positions:
      data = input(positions);
      break;
    case fa::ArgumentKind::Slots:
      data = input(slots);
      break;
    case fa::ArgumentKind::LogitRows:
      data = input(logitRows);
      break;
    case fa::ArgumentKind::Sequences:
    case fa::ArgumentKind::CallStart:
      break; // only its size is read
    case fa::ArgumentKind::State:
      data = group.states[state++].data();
      break;
    case fa::ArgumentKind::Weight:
      // The generated code only reads weights.
      data = cuda ? a.deviceWeights[argument]
                  : const_cast<void *>(a.weights[argument]);
      break;
    }
    ++argument;
    values.push_back(reinterpret_cast<int64_t>(data));
    values.push_back(reinterpret_cast<int64_t>(data));
    values.push_back(0);
    std::vector<int64_t> sizes;
    for (int64_t d : *arg->shape())
      sizes.push_back(d != -1 ? d
                      : arg->kind() == fa::ArgumentKind::LogitRows ? rowCount
                      : arg->kind() == fa::ArgumentKind::Sequences ? sequenceCount
                      : arg->kind() == fa::ArgumentKind::CallStart
                          ? (positions.empty() ? 0 : positions[0])
                          : count);
    values.insert(values.end(), sizes.begin(), sizes.end());
    std::vector<int64_t> strides(sizes.size(), 1);
    for (int i = static_cast<int>(sizes.size()) - 2; i >= 0; --i)
      strides[i] = strides[i + 1] * sizes[i + 1];
    values.insert(values.end(), strides.begin(), strides.end());
  }
  if (cuda && !cuda->error().empty()) {
    std::string error = cuda->error();
    cuda->clearError();
    return fail(a.name + ": " + cuda->description() + ": " + error);
  }
  std::vector<void *> pointers(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    pointers[i] = &values[i];
  LogitsDescriptor result{};
  if (cuda)
    cuda->beginCall();
  a.entry(pointers.data(), &result);
  if (!cuda) {
    if (result.sizes[0] != rowCount || result.sizes[1] != vocab) {
      releaseResult(a, result.allocated);
      return fail(a.name + ": the executable returned logits of the wrong shape");
    }
    logits.assign(result.aligned + result.offset,
                  result.aligned + result.offset + rowCount * vocab);
    releaseResult(a, result.allocated);
    return nullptr;
  }
  // The logits are in device memory; the launches were only recorded.
  bool ran = cuda->finishCall();
  if (ran && (result.sizes[0] != rowCount || result.sizes[1] != vocab)) {
    cuda->release(result.allocated);
    return fail(a.name + ": the executable returned logits of the wrong shape");
  }
  logits.resize(rowCount * vocab);
  ran = ran && cuda->download(logits.data(), result.aligned + result.offset,
                              logits.size() * sizeof(float));
  cuda->release(result.allocated);
  if (!ran) {
    std::string error = cuda->error();
    cuda->clearError();
    return fail(a.name + ": " + cuda->description() + ": " + error);
  }
  return nullptr;
}
} // namespace

extern "C" {

hybrid_status *hybrid_artifact_open_file(const char *path,
                                         hybrid_artifact **artifact) {
  return hybrid_artifact_open_file_with_weights(path, nullptr, artifact);
}

hybrid_status *hybrid_artifact_open_file_with_weights(
    const char *path, const char *weights_dir, hybrid_artifact **artifact) {
  auto a = std::make_unique<hybrid_artifact>();
  a->name = path;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(a->name + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size <= 0) {
    close(fd);
    return fail(a->name + ": empty or unreadable file");
  }
  a->file.size = static_cast<size_t>(st.st_size);
  a->file.data = mmap(nullptr, a->file.size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (a->file.data == MAP_FAILED) {
    a->file.data = nullptr;
    return fail(a->name + ": cannot map: " + std::strerror(errno));
  }
  a->bytes = static_cast<const uint8_t *>(a->file.data);
  size_t size = a->file.size;
  return open(std::move(a), size, weights_dir, artifact);
}

hybrid_status *hybrid_artifact_open_memory(const void *data, size_t size,
                                           hybrid_artifact **artifact) {
  if (!data)
    return fail("<memory>: no artifact bytes");
  auto a = std::make_unique<hybrid_artifact>();
  a->name = "<memory>";
  a->bytes = static_cast<const uint8_t *>(data);
  return open(std::move(a), size, nullptr, artifact);
}

void hybrid_artifact_free(hybrid_artifact *artifact) { delete artifact; }

hybrid_status *hybrid_artifact_set_threads(hybrid_artifact *artifact,
                                           int32_t threads) {
  if (threads < 0 || threads > 1024)
    return fail("threads must be from 0 (every core) to 1024, got " +
                std::to_string(threads));
  if (artifact->cuda)
    return fail(artifact->name + ": its kernels run on the CUDA device; "
                                 "threads apply to CPU artifacts");
  return installExecutor(*artifact, threads);
}

const char *hybrid_artifact_device(const hybrid_artifact *artifact) {
  return artifact->cuda ? "cuda" : "cpu";
}

const char *hybrid_artifact_device_name(const hybrid_artifact *artifact) {
  return artifact->cuda ? artifact->cuda->description().c_str() : "CPU";
}

int32_t hybrid_artifact_threads(const hybrid_artifact *artifact) {
  return artifact->executor ? artifact->executor->threads() : 1;
}

hybrid_status *hybrid_artifact_profile(hybrid_artifact *artifact,
                                      int enabled) {
  if (artifact->cuda) {
    artifact->cuda->setProfiling(enabled != 0);
    return nullptr;
  }
  if (!artifact->executor)
    return fail(artifact->name + ": the artifact has no dispatches to time");
  artifact->executor->setProfiling(enabled != 0);
  return nullptr;
}

hybrid_status *hybrid_artifact_write_profile(const hybrid_artifact *artifact,
                                             const char *table_path,
                                             const char *trace_path) {
  if (!artifact->executor && !artifact->cuda)
    return fail(artifact->name + ": the artifact has no dispatches to time");
  std::vector<hybrid::runtime::Executor::Event> events =
      artifact->cuda ? artifact->cuda->events() : artifact->executor->events();
  if (artifact->cuda && !artifact->cuda->error().empty()) {
    std::string error = artifact->cuda->error();
    artifact->cuda->clearError();
    return fail(artifact->name + ": " + artifact->cuda->description() + ": " +
                error);
  }
  if (table_path) {
    // Per kernel, by total time.
    struct Row {
      std::string kernel;
      int64_t calls = 0, workgroups = 0;
      double seconds = 0;
    };
    std::vector<Row> rows;
    std::map<std::string, size_t> index;
    double total = 0;
    for (const auto &event : events) {
      auto [it, added] = index.try_emplace(event.kernel, rows.size());
      if (added)
        rows.push_back({event.kernel});
      Row &row = rows[it->second];
      row.calls += 1;
      row.workgroups += event.workgroups;
      row.seconds += event.seconds;
      total += event.seconds;
    }
    std::sort(rows.begin(), rows.end(),
              [](const Row &a, const Row &b) { return a.seconds > b.seconds; });
    bool toStdout = std::string(table_path) == "-";
    FILE *out = toStdout ? stdout : std::fopen(table_path, "w");
    if (!out)
      return fail(std::string(table_path) + ": cannot write: " +
                  std::strerror(errno));
    std::fprintf(out, "%-56s %7s %11s %11s %10s %6s\n", "kernel", "calls",
                 "workgroups", "total ms", "mean us", "share");
    for (const Row &row : rows)
      std::fprintf(out, "%-56s %7lld %11lld %11.3f %10.1f %5.1f%%\n",
                   row.kernel.c_str(), static_cast<long long>(row.calls),
                   static_cast<long long>(row.workgroups), row.seconds * 1e3,
                   row.seconds * 1e6 / row.calls,
                   total > 0 ? 100.0 * row.seconds / total : 0.0);
    std::fprintf(out, "%zu dispatches of %zu kernels, %.3f ms\n", events.size(),
                 rows.size(), total * 1e3);
    if (!toStdout && std::fclose(out) != 0)
      return fail(std::string(table_path) + ": cannot write");
  }
  if (trace_path) {
    FILE *out = std::fopen(trace_path, "w");
    if (!out)
      return fail(std::string(trace_path) + ": cannot write: " +
                  std::strerror(errno));
    std::fprintf(out, "{\"traceEvents\": [");
    for (size_t i = 0; i < events.size(); ++i)
      std::fprintf(out,
                   "%s\n{\"name\": \"%s\", \"ph\": \"X\", \"pid\": 1, "
                   "\"tid\": 1, \"ts\": %.3f, \"dur\": %.3f, \"args\": "
                   "{\"workgroups\": %lld}}",
                   i ? "," : "", events[i].kernel, events[i].start * 1e6,
                   events[i].seconds * 1e6,
                   static_cast<long long>(events[i].workgroups));
    std::fprintf(out, "\n], \"displayTimeUnit\": \"ms\"}\n");
    if (std::fclose(out) != 0)
      return fail(std::string(trace_path) + ": cannot write");
  }
  return nullptr;
}

int64_t hybrid_artifact_vocab_size(const hybrid_artifact *artifact) {
  return artifact->root->config()->vocab_size();
}

int64_t hybrid_artifact_max_seq_len(const hybrid_artifact *artifact) {
  return artifact->root->config()->max_seq_len();
}

int64_t hybrid_artifact_max_batch(const hybrid_artifact *artifact) {
  return artifact->root->config()->max_batch();
}

hybrid_status *hybrid_session_create(hybrid_artifact *artifact,
                                     int32_t sequences,
                                     hybrid_session **session) {
  if (sequences <= 0)
    return fail("a session needs at least one sequence");
  auto s = std::make_unique<hybrid_session>();
  s->artifact = artifact;
  s->batch = artifact->root->config()->max_batch();
  s->sequences.resize(sequences);
  s->groups.resize((sequences + s->batch - 1) / s->batch);
  for (StateGroup &group : s->groups)
    for (const fa::Argument *arg : *artifact->root->arguments()) {
      if (arg->kind() != fa::ArgumentKind::State)
        continue;
      uint64_t bytes = argumentBytes(arg);
      group.states.emplace_back(static_cast<size_t>(bytes),
                                artifact->cuda.get());
      if (!group.states.back().data())
        return fail("cannot allocate " + std::to_string(bytes) +
                    " bytes of state '" + arg->name()->str() + "'" +
                    (artifact->cuda ? " on " + artifact->cuda->description() +
                                          ": " + artifact->cuda->error()
                                    : std::string()));
    }
  *session = s.release();
  return nullptr;
}

void hybrid_session_free(hybrid_session *session) { delete session; }

void hybrid_session_prompt_logits(hybrid_session *session, int all) {
  session->allPromptLogits = all != 0;
}

hybrid_status *hybrid_prefill(hybrid_session *session, int32_t sequence,
                              const int64_t *tokens, int64_t count) {
  if (hybrid_status *s = checkTokens(session, sequence, tokens, count))
    return s;
  Sequence &seq = session->sequences[sequence];
  std::vector<int64_t> positions(count);
  for (int64_t i = 0; i < count; ++i)
    positions[i] = seq.position + i;
  std::vector<int64_t> slots(count, sequence % session->batch);
  // Generation continues from the last token's logits: the others are
  // computed only when the caller asked for them.
  std::vector<int64_t> logitRows;
  for (int64_t i = session->allPromptLogits ? 0 : count - 1; i < count; ++i)
    logitRows.push_back(i);
  if (hybrid_status *s = call(session, session->groups[sequence / session->batch],
                              std::vector<int64_t>(tokens, tokens + count),
                              std::move(positions), std::move(slots),
                              logitRows, seq.logits))
    return s;
  seq.rows = static_cast<int64_t>(logitRows.size());
  seq.position += count;
  return nullptr;
}

hybrid_status *hybrid_decode(hybrid_session *session, const int64_t *tokens) {
  int32_t n = static_cast<int32_t>(session->sequences.size());
  // Every sequence is checked before any runs: no partial step.
  for (int32_t i = 0; i < n; ++i)
    if (hybrid_status *s = checkTokens(session, i, tokens + i, 1))
      return s;
  // One call per state group: a token for each of its sequences.
  int64_t vocab = session->artifact->root->config()->vocab_size();
  std::vector<float> logits;
  for (size_t g = 0; g < session->groups.size(); ++g) {
    int32_t first = static_cast<int32_t>(g * session->batch);
    int32_t last = std::min<int32_t>(n, first + session->batch);
    std::vector<int64_t> ids, positions, slots, logitRows;
    for (int32_t i = first; i < last; ++i) {
      ids.push_back(tokens[i]);
      positions.push_back(session->sequences[i].position);
      slots.push_back(i - first);
      logitRows.push_back(i - first);
    }
    if (hybrid_status *s = call(session, session->groups[g], std::move(ids),
                                std::move(positions), std::move(slots),
                                std::move(logitRows), logits))
      return s;
    for (int32_t i = first; i < last; ++i) {
      Sequence &seq = session->sequences[i];
      seq.logits.assign(logits.begin() + (i - first) * vocab,
                        logits.begin() + (i - first + 1) * vocab);
      seq.rows = 1;
      seq.position += 1;
    }
  }
  return nullptr;
}

hybrid_status *hybrid_logits(hybrid_session *session, int32_t sequence,
                             const float **logits, int64_t *rows) {
  if (sequence < 0 || sequence >= static_cast<int32_t>(session->sequences.size()))
    return fail("sequence " + std::to_string(sequence) + " is not in the session");
  Sequence &seq = session->sequences[sequence];
  if (seq.rows == 0)
    return fail("sequence " + std::to_string(sequence) + " has not run yet");
  *logits = seq.logits.data();
  *rows = seq.rows;
  return nullptr;
}

int64_t hybrid_sequence_position(const hybrid_session *session,
                                 int32_t sequence) {
  return session->sequences.at(sequence).position;
}

hybrid_status *hybrid_sequence_reset(hybrid_session *session,
                                     int32_t sequence) {
  if (sequence < 0 || sequence >= static_cast<int32_t>(session->sequences.size()))
    return fail("sequence " + std::to_string(sequence) + " is not in the session");
  Sequence &seq = session->sequences[sequence];
  // Its slot of every state buffer of its group.
  int64_t batch = session->batch, slot = sequence % batch;
  for (StateBuffer &buffer : session->groups[sequence / batch].states) {
    size_t part = buffer.size() / batch;
    if (!buffer.zero(slot * part, part))
      return deviceFailure(session);
  }
  seq.position = 0;
  seq.logits.clear();
  seq.rows = 0;
  return nullptr;
}

} // extern "C"

//===----------------------------------------------------------------------===//
// State snapshots
//===----------------------------------------------------------------------===//

struct hybrid_snapshot {
  uint64_t stateTable = 0; // fingerprint of the state table it fits
  int64_t position = 0;
  std::vector<float> logits;
  int64_t rows = 0;
  std::vector<std::vector<uint8_t>> states; // one sequence's slot of each
};

namespace {
constexpr char kSnapshotMagic[4] = {'H', 'Y', 'B', 'S'};
/// Version 2: the file ends with the checksum of all bytes before it.
constexpr uint32_t kSnapshotVersion = 2;

/// The checksum of what a snapshot's bytes mean: each state's name, element
/// type and per-sequence shape (without the batch dimension), and the
/// vocabulary.
uint64_t stateTableFingerprint(const hybrid_artifact &a) {
  uint64_t hash = 0;
  auto mix = [&](const void *data, size_t size) {
    hash = fa::bytesChecksum(static_cast<const uint8_t *>(data), size, hash);
  };
  int64_t batch = a.root->config()->max_batch();
  int64_t vocab = a.root->config()->vocab_size();
  mix(&vocab, sizeof vocab);
  for (const fa::Argument *arg : *a.root->arguments()) {
    if (arg->kind() != fa::ArgumentKind::State)
      continue;
    mix(arg->name()->c_str(), arg->name()->size() + 1);
    auto type = static_cast<uint8_t>(arg->element_type());
    mix(&type, 1);
    for (size_t d = batch > 1 ? 1 : 0; d < arg->shape()->size(); ++d) {
      int64_t size = arg->shape()->Get(d);
      mix(&size, sizeof size);
    }
  }
  return hash;
}

/// Sequence `sequence`'s part of one state buffer of its group.
struct StateSlice {
  StateBuffer *buffer;
  size_t offset, size;
};
std::vector<StateSlice> stateSlices(hybrid_session *session, int32_t sequence) {
  int64_t batch = session->batch, slot = sequence % batch;
  std::vector<StateSlice> slices;
  for (StateBuffer &buffer : session->groups[sequence / batch].states) {
    size_t part = buffer.size() / batch;
    slices.push_back({&buffer, slot * part, part});
  }
  return slices;
}

hybrid_status *checkSequence(const hybrid_session *session, int32_t sequence) {
  if (sequence < 0 || sequence >= static_cast<int32_t>(session->sequences.size()))
    return fail("sequence " + std::to_string(sequence) + " is not in the session");
  return nullptr;
}
} // namespace

extern "C" {

hybrid_status *hybrid_sequence_snapshot(hybrid_session *session,
                                        int32_t sequence,
                                        hybrid_snapshot **snapshot) {
  if (hybrid_status *s = checkSequence(session, sequence))
    return s;
  auto copy = std::make_unique<hybrid_snapshot>();
  copy->stateTable = stateTableFingerprint(*session->artifact);
  const Sequence &seq = session->sequences[sequence];
  copy->position = seq.position;
  copy->logits = seq.logits;
  copy->rows = seq.rows;
  for (StateSlice slice : stateSlices(session, sequence)) {
    copy->states.emplace_back(slice.size);
    if (!slice.buffer->read(slice.offset, copy->states.back().data(),
                            slice.size))
      return deviceFailure(session);
  }
  *snapshot = copy.release();
  return nullptr;
}

hybrid_status *hybrid_sequence_restore(hybrid_session *session,
                                       int32_t sequence,
                                       const hybrid_snapshot *snapshot) {
  if (hybrid_status *s = checkSequence(session, sequence))
    return s;
  if (snapshot->stateTable != stateTableFingerprint(*session->artifact))
    return fail("the snapshot is of another model's state (state tables "
                "differ)");
  auto slices = stateSlices(session, sequence);
  if (slices.size() != snapshot->states.size())
    return fail("the snapshot's state does not fit this artifact");
  for (size_t i = 0; i < slices.size(); ++i) {
    if (slices[i].size != snapshot->states[i].size())
      return fail("the snapshot's state does not fit this artifact");
  }
  for (size_t i = 0; i < slices.size(); ++i)
    if (!slices[i].buffer->write(slices[i].offset, snapshot->states[i].data(),
                                 slices[i].size))
      return deviceFailure(session);
  Sequence &seq = session->sequences[sequence];
  seq.position = snapshot->position;
  seq.logits = snapshot->logits;
  seq.rows = snapshot->rows;
  return nullptr;
}

hybrid_status *hybrid_sequence_fork(hybrid_session *session, int32_t from,
                                    int32_t to) {
  if (hybrid_status *s = checkSequence(session, from))
    return s;
  if (hybrid_status *s = checkSequence(session, to))
    return s;
  if (from == to)
    return nullptr;
  hybrid_snapshot *copy = nullptr;
  if (hybrid_status *s = hybrid_sequence_snapshot(session, from, &copy))
    return s;
  hybrid_status *s = hybrid_sequence_restore(session, to, copy);
  hybrid_snapshot_free(copy);
  return s;
}

int64_t hybrid_snapshot_position(const hybrid_snapshot *snapshot) {
  return snapshot->position;
}

void hybrid_snapshot_free(hybrid_snapshot *snapshot) { delete snapshot; }

hybrid_status *hybrid_snapshot_save(const hybrid_snapshot *snapshot,
                                    const char *path) {
  std::string target = path;
  std::string temporary = target + ".partial";
  FILE *file = std::fopen(temporary.c_str(), "wb");
  if (!file)
    return fail(target + ": cannot write: " + std::strerror(errno));
  bool ok = true;
  uint64_t checksum = 0;
  auto put = [&](const void *data, size_t size) {
    ok = ok && std::fwrite(data, 1, size, file) == size;
    checksum = fa::bytesChecksum(static_cast<const uint8_t *>(data), size,
                                 checksum);
  };
  uint64_t logitCount = snapshot->logits.size();
  uint32_t count = static_cast<uint32_t>(snapshot->states.size());
  put(kSnapshotMagic, 4);
  put(&kSnapshotVersion, 4);
  put(&snapshot->stateTable, 8);
  put(&snapshot->position, 8);
  put(&snapshot->rows, 8);
  put(&logitCount, 8);
  put(snapshot->logits.data(), logitCount * sizeof(float));
  put(&count, 4);
  for (const std::vector<uint8_t> &state : snapshot->states) {
    uint64_t size = state.size();
    put(&size, 8);
    put(state.data(), size);
  }
  ok = ok && std::fwrite(&checksum, 1, 8, file) == 8;
  ok = (std::fclose(file) == 0) && ok;
  if (!ok || std::rename(temporary.c_str(), target.c_str()) != 0) {
    std::remove(temporary.c_str());
    return fail(target + ": cannot write: " + std::strerror(errno));
  }
  return nullptr;
}

hybrid_status *hybrid_snapshot_load(const hybrid_artifact *artifact,
                                    const char *path,
                                    hybrid_snapshot **snapshot) {
  std::string name = path;
  FILE *file = std::fopen(path, "rb");
  if (!file)
    return fail(name + ": cannot open: " + std::strerror(errno));
  std::unique_ptr<FILE, int (*)(FILE *)> closer(file, std::fclose);
  // Every piece read goes into the checksum the file ends with, so that
  // changed state bytes are refused rather than continued from.
  uint64_t checksum = 0;
  auto get = [&](void *data, size_t size) {
    if (std::fread(data, 1, size, file) != size)
      return false;
    checksum = fa::bytesChecksum(static_cast<const uint8_t *>(data), size,
                                 checksum);
    return true;
  };
  auto copy = std::make_unique<hybrid_snapshot>();
  char magic[4];
  uint32_t version = 0;
  if (!get(magic, 4) || std::memcmp(magic, kSnapshotMagic, 4) != 0)
    return fail(name + ": not a HybridC state snapshot");
  if (!get(&version, 4) || version != kSnapshotVersion)
    return fail(name + ": snapshot format " + std::to_string(version) +
                ", this runtime reads " + std::to_string(kSnapshotVersion));
  uint64_t logitCount = 0;
  if (!get(&copy->stateTable, 8) || !get(&copy->position, 8) ||
      !get(&copy->rows, 8) || !get(&logitCount, 8))
    return fail(name + ": truncated snapshot");
  if (copy->stateTable != stateTableFingerprint(*artifact))
    return fail(name + ": the snapshot is of another model's state (state "
                       "tables differ)");
  const fa::ModelConfig *config = artifact->root->config();
  if (copy->position < 0 || copy->position > config->max_seq_len() ||
      copy->rows < 0 || copy->rows > config->max_seq_len() ||
      logitCount != static_cast<uint64_t>(copy->rows * config->vocab_size()))
    return fail(name + ": corrupted snapshot (position or logits)");
  // Nothing is allocated beyond what the file holds.
  long here = std::ftell(file);
  if (here < 0 || std::fseek(file, 0, SEEK_END) != 0)
    return fail(name + ": cannot read");
  uint64_t left = static_cast<uint64_t>(std::ftell(file) - here);
  std::fseek(file, here, SEEK_SET);
  if (logitCount > left / sizeof(float))
    return fail(name + ": truncated snapshot");
  copy->logits.resize(logitCount);
  uint32_t count = 0;
  if (!get(copy->logits.data(), logitCount * sizeof(float)) || !get(&count, 4))
    return fail(name + ": truncated snapshot");
  // The sizes the state table gives, one sequence each.
  std::vector<uint64_t> expected;
  int64_t batch = config->max_batch();
  for (const fa::Argument *arg : *artifact->root->arguments()) {
    if (arg->kind() != fa::ArgumentKind::State)
      continue;
    expected.push_back(argumentBytes(arg) / batch);
  }
  if (count != expected.size())
    return fail(name + ": corrupted snapshot (state count)");
  for (uint64_t want : expected) {
    uint64_t size = 0;
    if (!get(&size, 8) || size != want)
      return fail(name + ": corrupted snapshot (state size)");
    copy->states.emplace_back(size);
    if (!get(copy->states.back().data(), size))
      return fail(name + ": truncated snapshot");
  }
  uint64_t recorded = 0;
  if (std::fread(&recorded, 1, 8, file) != 8)
    return fail(name + ": truncated snapshot");
  if (recorded != checksum)
    return fail(name + ": corrupted snapshot (its bytes differ from its "
                       "checksum)");
  if (std::fgetc(file) != EOF)
    return fail(name + ": corrupted snapshot (trailing bytes)");
  *snapshot = copy.release();
  return nullptr;
}

} // extern "C"
