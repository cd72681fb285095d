//===- HostPool.h - the CPU plan's buffers, kept for reuse ------*- C++ -*-===//
//
// A CPU artifact's plan allocates its buffers (activations, a layer's
// intermediates) through the runtime's `hybrid_host_alloc` and frees them
// after their last use. glibc hands blocks that large back to the system
// when they are freed, so every layer and every call faulted its buffers'
// pages in again (and the kernel zeroed each one). The pool keeps freed
// blocks of a page and more by size class for the next allocation that
// fits, and caps what it keeps at the most bytes the plan ever had in use
// at once, so that it holds at most twice the plan's peak; past the cap
// the blocks kept longest go first (those a call of another shape left).
//
//===----------------------------------------------------------------------===//

#ifndef HYBRIDC_RUNTIME_SRC_HOSTPOOL_H
#define HYBRIDC_RUNTIME_SRC_HOSTPOOL_H

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace hybrid::runtime {

class HostPool {
public:
  /// Blocks smaller than a page go straight to the C allocator.
  static constexpr size_t kPooledBytes = 4096;

  HostPool() = default;
  ~HostPool();
  HostPool(const HostPool &) = delete;
  HostPool &operator=(const HostPool &) = delete;

  /// At least `bytes`, aligned to `alignment` (a power of two; blocks
  /// aligned to more than a page are not pooled); null when the system has
  /// no memory left.
  void *allocate(size_t bytes, size_t alignment);
  /// A block from allocate(), or null.
  void release(void *block);

  /// The size class of a pooled block of `bytes`: a quarter step between
  /// powers of two, whole pages (at most a quarter wasted).
  static size_t sizeClass(size_t bytes);

  /// What the pool holds now: blocks in use, and kept for reuse.
  struct Usage {
    size_t liveBytes, cachedBytes, peakLiveBytes;
  };
  Usage usage() const;

  /// The C entry points installed in the generated code's
  /// `hybrid_host_alloc` and `hybrid_host_free`.
  static void *allocateEntry(void *self, int64_t alignment, int64_t bytes);
  static void releaseEntry(void *self, void *block);

private:
  mutable std::mutex mutex_;
  /// Every pooled block (in use or kept) and its size class.
  std::unordered_map<void *, size_t> classOf_;
  /// Kept blocks, the longest kept first (evicted first).
  struct Kept {
    void *block;
    size_t size;
  };
  std::list<Kept> kept_;
  /// Kept blocks by size class, each class's in the order they were kept.
  std::map<size_t, std::vector<std::list<Kept>::iterator>> keptBySize_;
  size_t liveBytes_ = 0, cachedBytes_ = 0, peakLiveBytes_ = 0;
};

} // namespace hybrid::runtime

#endif // HYBRIDC_RUNTIME_SRC_HOSTPOOL_H
