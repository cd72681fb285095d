//===- artifact_format.h - What compiler and runtime agree on ---*- C++ -*-===//
//
// Besides artifact.fbs: the version the compiler writes and the runtime
// requires, the file layout around the flatbuffer, and the checksum of a
// safetensors header, of an artifact and of a state snapshot.
//
// The compiler records, and the runtime checks, the header checksum of each
// safetensors file an artifact with external weights reads: a file that was
// replaced or re-saved since the compile is refused instead of being read at
// stale offsets. It covers the 8-byte header length and the JSON header
// (names, dtypes, shapes, offsets), not the tensor bytes.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRIDC_RUNTIME_SCHEMAS_ARTIFACT_FORMAT_H
#define HYBRIDC_RUNTIME_SCHEMAS_ARTIFACT_FORMAT_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace hybrid::artifact {

/// Bumped on every change of artifact.fbs or of the host plan's calls into
/// the runtime (convert-hybrid-dispatch-to-llvm's ABI); a runtime refuses
/// other versions.
constexpr uint32_t kArtifactVersion = 12;

/// The x86 features an artifact's code may need beyond x86-64's baseline
/// (SSE2), by their LLVM names, which are also the names
/// __builtin_cpu_supports takes: the compiler records in
/// Executable.cpu_features each of them that the CPU it compiled for has
/// (LLVM may use any of them there), and the runtime refuses the artifact
/// on a CPU without one of them, instead of stopping on an illegal
/// instruction. Not here: what LLVM uses only through intrinsics the
/// compiler never emits (AMX, for one).
#define HYBRID_CPU_FEATURES(X)                                                 \
  X("sse3") X("ssse3") X("sse4.1") X("sse4.2") X("sse4a") X("popcnt")          \
  X("lzcnt") X("movbe") X("bmi") X("bmi2") X("adx") X("aes") X("pclmul")      \
  X("sha") X("xsave") X("avx") X("avx2") X("fma") X("f16c") X("fma4")         \
  X("xop") X("gfni") X("vaes") X("vpclmulqdq") X("avxvnni") X("avx512f")      \
  X("avx512bw") X("avx512cd") X("avx512dq") X("avx512vl") X("avx512ifma")     \
  X("avx512vbmi") X("avx512vbmi2") X("avx512bitalg") X("avx512vpopcntdq")     \
  X("avx512vnni") X("avx512bf16") X("avx512fp16")

#define HYBRID_CPU_FEATURE_NAME(name) name,
inline constexpr const char *kCpuFeatures[] = {
    HYBRID_CPU_FEATURES(HYBRID_CPU_FEATURE_NAME)};
#undef HYBRID_CPU_FEATURE_NAME

/// The one checksum of the format (safetensors headers, whole artifacts,
/// state snapshots), fast enough for gigabytes of weights at every load:
/// four lanes of 8-byte words multiplied and rotated (the round of
/// xxHash64, not its exact value), then the tail byte by byte. It catches
/// damage in storage or transfer, not tampering. `seed` chains pieces.
/// Fed in pieces (update) it gives what one call over their concatenation
/// gives: the compiler checksums an artifact as it streams it to the file.
class Checksummer {
public:
  explicit Checksummer(uint64_t seed = 0)
      : lanes_{seed + kPrime1 + kPrime2, seed + kPrime2, seed, seed - kPrime1} {}

  void update(const uint8_t *bytes, size_t size) {
    total_ += size;
    if (pending_ != 0) {
      size_t taken = size < 32 - pending_ ? size : 32 - pending_;
      std::memcpy(block_ + pending_, bytes, taken);
      pending_ += taken;
      bytes += taken;
      size -= taken;
      if (pending_ < 32)
        return;
      round(block_);
      pending_ = 0;
    }
    for (; size >= 32; bytes += 32, size -= 32)
      round(bytes);
    std::memcpy(block_, bytes, size);
    pending_ = size;
  }

  uint64_t finish() const {
    uint64_t hash = total_ * kPrime1;
    for (uint64_t lane : lanes_)
      hash = rotate(hash ^ lane, 27) * kPrime1 + kPrime2;
    for (size_t i = 0; i < pending_; ++i)
      hash = (hash ^ block_[i]) * 0x100000001b3ull;
    return hash ^ (hash >> 29);
  }

private:
  static constexpr uint64_t kPrime1 = 0x9E3779B185EBCA87ull;
  static constexpr uint64_t kPrime2 = 0xC2B2AE3D27D4EB4Full;
  static uint64_t rotate(uint64_t v, int bits) {
    return (v << bits) | (v >> (64 - bits));
  }
  void round(const uint8_t *block) {
    for (int lane = 0; lane < 4; ++lane) {
      uint64_t word;
      std::memcpy(&word, block + 8 * lane, 8);
      lanes_[lane] = rotate(lanes_[lane] + word * kPrime2, 31) * kPrime1;
    }
  }

  uint64_t lanes_[4];
  uint64_t total_ = 0;
  uint8_t block_[32] = {};
  size_t pending_ = 0; // bytes of block_ not yet in a round
};

inline uint64_t bytesChecksum(const uint8_t *bytes, size_t size,
                              uint64_t seed = 0) {
  Checksummer checksummer(seed);
  checksummer.update(bytes, size);
  return checksummer.finish();
}

// An artifact file (version 10 on): the flatbuffer, size-prefixed (a
// 4-byte little-endian length, then the Artifact table: identifier HYBC at
// byte 8); zeros up to Artifact.weights.offset; the embedded weights; and
// the checksum of every byte before it. The weights lie outside the
// flatbuffer, whose offsets are 32-bit: a model's weights may be any size.

/// Where the embedded weights begin: the first multiple of this after the
/// flatbuffer (page-aligned, as the runtime maps them).
constexpr uint64_t kWeightsAlignment = 4096;

/// The file's last bytes: the artifact checksum of all the bytes before
/// them, little-endian.
constexpr size_t kChecksumBytes = 8;

/// An artifact checksum is the bytesChecksum of its bytes' blocks of this
/// size (the last one shorter), each block's as 8 little-endian bytes in
/// order, seeded with the byte count: the runtime checks a file of
/// gigabytes on all its cores, a block each.
constexpr size_t kChecksumBlock = size_t(64) << 20;

/// The artifact checksum of the bytes fed to it in pieces, as the compiler
/// writes the file.
class ArtifactChecksummer {
public:
  void update(const uint8_t *bytes, size_t size) {
    while (size != 0) {
      size_t taken = size < kChecksumBlock - inBlock_ ? size : kChecksumBlock - inBlock_;
      block_.update(bytes, taken);
      inBlock_ += taken;
      total_ += taken;
      bytes += taken;
      size -= taken;
      if (inBlock_ == kChecksumBlock) {
        blocks_.push_back(block_.finish());
        block_ = Checksummer();
        inBlock_ = 0;
      }
    }
  }

  uint64_t finish() const {
    std::vector<uint64_t> blocks(blocks_);
    if (inBlock_ != 0 || blocks.empty())
      blocks.push_back(block_.finish());
    return combine(blocks, total_);
  }

  /// The checksum of `total` bytes whose blocks' checksums are `blocks`.
  static uint64_t combine(const std::vector<uint64_t> &blocks, uint64_t total) {
    return bytesChecksum(reinterpret_cast<const uint8_t *>(blocks.data()),
                         blocks.size() * sizeof(uint64_t), total);
  }

  /// The number of blocks of `size` bytes (one, empty, for none).
  static size_t blockCount(size_t size) {
    return size == 0 ? 1 : (size - 1) / kChecksumBlock + 1;
  }

private:
  Checksummer block_;
  size_t inBlock_ = 0;
  uint64_t total_ = 0;
  std::vector<uint64_t> blocks_;
};

} // namespace hybrid::artifact

#endif // HYBRIDC_RUNTIME_SCHEMAS_ARTIFACT_FORMAT_H
