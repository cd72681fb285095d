//===- artifact_format.h - What compiler and runtime agree on ---*- C++ -*-===//
//
// Besides artifact.fbs: the version the compiler writes and the runtime
// requires, the checksum of a safetensors header and that of an artifact.
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

namespace hybrid::artifact {

/// Bumped on every change of artifact.fbs or of the host plan's calls into
/// the runtime (convert-hybrid-dispatch-to-llvm's ABI); a runtime refuses
/// other versions.
constexpr uint32_t kArtifactVersion = 9;

/// The one checksum of the format (safetensors headers, whole artifacts,
/// state snapshots), fast enough for gigabytes of weights at every load:
/// four lanes of 8-byte words multiplied and rotated (the round of
/// xxHash64, not its exact value), then the tail byte by byte. It catches
/// damage in storage or transfer, not tampering. `seed` chains pieces.
inline uint64_t bytesChecksum(const uint8_t *bytes, size_t size,
                              uint64_t seed = 0) {
  constexpr uint64_t kPrime1 = 0x9E3779B185EBCA87ull;
  constexpr uint64_t kPrime2 = 0xC2B2AE3D27D4EB4Full;
  auto rotate = [](uint64_t v, int bits) {
    return (v << bits) | (v >> (64 - bits));
  };
  uint64_t lanes[4] = {seed + kPrime1 + kPrime2, seed + kPrime2, seed,
                       seed - kPrime1};
  size_t i = 0;
  for (; i + 32 <= size; i += 32)
    for (int lane = 0; lane < 4; ++lane) {
      uint64_t word;
      std::memcpy(&word, bytes + i + 8 * lane, 8);
      lanes[lane] = rotate(lanes[lane] + word * kPrime2, 31) * kPrime1;
    }
  uint64_t hash = size * kPrime1;
  for (int lane = 0; lane < 4; ++lane)
    hash = rotate(hash ^ lanes[lane], 27) * kPrime1 + kPrime2;
  for (; i < size; ++i)
    hash = (hash ^ bytes[i]) * 0x100000001b3ull;
  return hash ^ (hash >> 29);
}

/// An artifact's checksum: all of its `size` bytes, the 8 at `field` (the
/// Checksum struct's offset in the file) taken as zero.
inline uint64_t fileChecksum(const uint8_t *bytes, size_t size, size_t field) {
  const uint8_t zero[8] = {};
  uint64_t hash = bytesChecksum(bytes, field);
  hash = bytesChecksum(zero, 8, hash);
  return bytesChecksum(bytes + field + 8, size - field - 8, hash);
}

} // namespace hybrid::artifact

#endif // HYBRIDC_RUNTIME_SCHEMAS_ARTIFACT_FORMAT_H
