// Benchmark helper, not part of the runtime: rewrites a state snapshot
// (hybrid-run --save-state) as if its sequence stood at another position,
// so that bench/context.py decodes after a long context without running a
// long prompt. The snapshot's checksum covers its bytes piece by piece, as
// hybrid_snapshot_save writes them (runtime/src/runtime.cpp); this walks
// the same pieces and writes the checksum of the changed file.
//
// usage: snapshot_at IN.state POSITION OUT.state
#include "artifact_format.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

int main(int argc, char **argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: snapshot_at IN.state POSITION OUT.state\n");
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  char *rest = nullptr;
  int64_t position = std::strtoll(argv[2], &rest, 10);
  if (*argv[2] == '\0' || *rest != '\0' || position < 0) {
    std::fprintf(stderr, "POSITION: '%s' is not a position\n", argv[2]);
    return 2;
  }
  constexpr size_t kChecksumBytes = hybrid::artifact::kChecksumBytes;
  size_t at = 0;
  uint64_t checksum = 0;
  bool ok = true;
  auto piece = [&](size_t size) { // the next piece's offset
    size_t begin = at;
    ok = ok && begin <= bytes.size() - kChecksumBytes &&
         size <= bytes.size() - kChecksumBytes - begin;
    if (ok)
      checksum = hybrid::artifact::bytesChecksum(bytes.data() + begin, size, checksum);
    at += size;
    return begin;
  };
  auto number = [&](size_t offset, size_t size) {
    uint64_t value = 0;
    if (ok)
      std::memcpy(&value, bytes.data() + offset, size);
    return value;
  };
  ok = bytes.size() >= 44 + kChecksumBytes && std::memcmp(bytes.data(), "HYBS", 4) == 0;
  if (ok)
    std::memcpy(bytes.data() + 16, &position, 8); // after magic, version, table
  piece(4), piece(4), piece(8), piece(8), piece(8);
  uint64_t logits = number(piece(8), 8);
  piece(logits * sizeof(float));
  uint64_t states = number(piece(4), 4);
  for (uint64_t s = 0; ok && s < states; ++s)
    piece(number(piece(8), 8));
  if (!ok || at != bytes.size() - kChecksumBytes) {
    std::fprintf(stderr, "%s: not a state snapshot this helper reads\n", argv[1]);
    return 1;
  }
  std::memcpy(bytes.data() + at, &checksum, kChecksumBytes);
  std::ofstream out(argv[3], std::ios::binary);
  out.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
  return out ? 0 : 1;
}
