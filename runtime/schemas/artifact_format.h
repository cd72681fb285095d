//===- artifact_format.h - What compiler and runtime agree on ---*- C++ -*-===//
//
// Besides artifact.fbs: the version the compiler writes and the runtime
// requires, and the checksum of a safetensors header.
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

namespace hybrid::artifact {

/// Bumped on every change of artifact.fbs or of the host plan's calls into
/// the runtime (convert-hybrid-dispatch-to-llvm's ABI); a runtime refuses
/// other versions.
constexpr uint32_t kArtifactVersion = 6;

/// FNV-1a, 64 bit.
inline uint64_t headerChecksum(const uint8_t *bytes, size_t size) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

} // namespace hybrid::artifact

#endif // HYBRIDC_RUNTIME_SCHEMAS_ARTIFACT_FORMAT_H
