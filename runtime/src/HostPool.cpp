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
  for (const Kept &kept : kept_)
    std::free(kept.block);
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
    auto fits = keptBySize_.lower_bound(size);
    if (fits != keptBySize_.end() && fits->first <= 2 * size) {
      auto kept = fits->second.back(); // the class's latest
      fits->second.pop_back();
      if (fits->second.empty())
        keptBySize_.erase(fits);
      void *block = kept->block;
      cachedBytes_ -= kept->size;
      liveBytes_ += kept->size;
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
    keptBySize_[size].push_back(kept_.insert(kept_.end(), {block, size}));
    cachedBytes_ += size;
    // Keep no more than the plan ever had in use: the blocks kept longest
    // go first (a longer prompt's, say, that a shorter one cannot use).
    // Evicting the largest first instead evicted an MoE layer's 16 MB
    // buffer of expert outputs at every layer of a 1020-token prompt, and
    // the next layer faulted its pages in again.
    while (cachedBytes_ > peakLiveBytes_) {
      Kept oldest = kept_.front();
      auto sameSize = keptBySize_.find(oldest.size);
      sameSize->second.erase(sameSize->second.begin()); // the class's oldest
      if (sameSize->second.empty())
        keptBySize_.erase(sameSize);
      kept_.pop_front();
      cachedBytes_ -= oldest.size;
      classOf_.erase(oldest.block);
      evicted.push_back(oldest.block);
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
