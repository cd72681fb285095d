//===- HostPool.cpp - the CPU plan's buffers, kept for reuse --------------===//

#include "HostPool.h"

#include <algorithm>
#include <bit>
#include <cstdlib>

using namespace hybrid::runtime;

namespace {
constexpr size_t kPage = 4096;

void *alignedBlock(size_t bytes, size_t alignment) {
  void *block = nullptr;
  alignment = std::max(alignment, sizeof(void *));
  if (posix_memalign(&block, alignment, bytes ? bytes : 1) != 0)
    return nullptr;
  return block;
}
} // namespace

HostPool::~HostPool() {
  for (auto &[size, blocks] : kept_)
    for (void *block : blocks)
      std::free(block);
}

size_t HostPool::sizeClass(size_t bytes) {
  size_t pages = (bytes + kPage - 1) / kPage * kPage;
  size_t step = std::max(std::bit_floor(pages) / 4, kPage);
  return (pages + step - 1) / step * step;
}

void *HostPool::allocate(size_t bytes, size_t alignment) {
  // Kept blocks are page-aligned: a larger alignment is the C allocator's.
  if (bytes < kPooledBytes || alignment > kPage)
    return alignedBlock(bytes, alignment);
  size_t size = sizeClass(bytes);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // A kept block of this class, or of a larger one up to twice the size:
    // its pages are mapped already.
    auto kept = kept_.lower_bound(size);
    if (kept != kept_.end() && kept->first <= 2 * size) {
      void *block = kept->second.back();
      kept->second.pop_back();
      cachedBytes_ -= kept->first;
      liveBytes_ += kept->first;
      if (kept->second.empty())
        kept_.erase(kept);
      return block;
    }
  }
  void *block = alignedBlock(size, kPage);
  if (!block)
    return nullptr;
  std::lock_guard<std::mutex> lock(mutex_);
  classOf_[block] = size;
  liveBytes_ += size;
  peakLiveBytes_ = std::max(peakLiveBytes_, liveBytes_);
  return block;
}

void HostPool::release(void *block) {
  if (!block)
    return;
  std::vector<void *> evicted;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto pooled = classOf_.find(block);
    if (pooled == classOf_.end()) {
      // A small block, from the C allocator.
      std::free(block);
      return;
    }
    size_t size = pooled->second;
    liveBytes_ -= size;
    kept_[size].push_back(block);
    cachedBytes_ += size;
    // Keep no more than the plan ever had in use: the largest blocks go
    // first (a longer prompt's, say, that a shorter one cannot use).
    while (cachedBytes_ > peakLiveBytes_) {
      auto largest = std::prev(kept_.end());
      void *victim = largest->second.back();
      largest->second.pop_back();
      cachedBytes_ -= largest->first;
      classOf_.erase(victim);
      evicted.push_back(victim);
      if (largest->second.empty())
        kept_.erase(largest);
    }
  }
  for (void *victim : evicted)
    std::free(victim);
}

HostPool::Usage HostPool::usage() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {liveBytes_, cachedBytes_, peakLiveBytes_};
}

void *HostPool::allocateEntry(void *self, int64_t alignment, int64_t bytes) {
  return static_cast<HostPool *>(self)->allocate(static_cast<size_t>(bytes),
                                                 static_cast<size_t>(alignment));
}

void HostPool::releaseEntry(void *self, void *block) {
  static_cast<HostPool *>(self)->release(block);
}
