//===- host_pool_test.cpp - The CPU plan's buffer pool (HostPool) ---------===//
//
// host-pool-test checks HostPool's policy directly: size classes, reuse of
// a freed block by the next allocation of its class (or of up to half a
// larger one's size), small blocks left to the C allocator, the cap on what
// it keeps (the peak in use), alignment. Prints "N checks, F failed".
// Built with AddressSanitizer + UndefinedBehaviorSanitizer.
//
//===----------------------------------------------------------------------===//

#include "Checks.h"
#include "HostPool.h"

#include <cstdint>
#include <cstring>
#include <string>

using hybrid::runtime::HostPool;

using checks::check;

int main() {
  constexpr size_t kPage = 4096, kMiB = 1 << 20;
  // Classes: whole pages, quarter steps between powers of two.
  check(HostPool::sizeClass(1) == kPage, "one byte is a page");
  check(HostPool::sizeClass(5 * kPage) == 5 * kPage, "5 pages are 5 pages");
  check(HostPool::sizeClass(kMiB + 1) == kMiB + kMiB / 4,
        "just past 1 MiB is 1.25 MiB");
  check(HostPool::sizeClass(3 * kMiB) == 3 * kMiB, "3 MiB is a class");
  for (size_t bytes : {kPage, 7 * kPage + 3, kMiB - 1, 3 * kMiB + 5, 100 * kMiB}) {
    size_t size = HostPool::sizeClass(bytes);
    check(size >= bytes && size - bytes < bytes / 4 + kPage,
          "class of " + std::to_string(bytes) + " wastes under a quarter");
  }

  {
    HostPool pool;
    // A freed block comes back for the next allocation of its class.
    void *a = pool.allocate(2 * kMiB, 64);
    std::memset(a, 1, 2 * kMiB);
    pool.release(a);
    void *b = pool.allocate(2 * kMiB - 100, 16);
    check(a == b, "a freed block is reused for its class");
    // Or for a smaller one, down to half its size; not below.
    pool.release(b);
    void *c = pool.allocate(kMiB + 1, 16);
    check(c == a, "a block serves a class down to half its size");
    void *d = pool.allocate(2 * kMiB, 16);
    check(d != a, "a block in use is not handed out twice");
    pool.release(c);
    void *e = pool.allocate(kMiB / 2, 16);
    check(e != a, "a block does not serve a class under half its size");
    HostPool::Usage usage = pool.usage();
    check(usage.cachedBytes == 2 * kMiB, "the unused block is kept");
    check(usage.liveBytes == HostPool::sizeClass(2 * kMiB) + kMiB / 2,
          "live bytes count the blocks in use");
    // Alignment: page-aligned pooled blocks, small ones as asked.
    check(reinterpret_cast<uintptr_t>(d) % kPage == 0, "pooled blocks are page-aligned");
    void *small = pool.allocate(100, 64);
    check(small && reinterpret_cast<uintptr_t>(small) % 64 == 0,
          "a small block is aligned as asked");
    pool.release(small);
    check(pool.usage().liveBytes == usage.liveBytes, "small blocks are not pooled");
    void *wide = pool.allocate(2 * kMiB, 4 * kPage);
    check(wide && reinterpret_cast<uintptr_t>(wide) % (4 * kPage) == 0,
          "an alignment past a page is kept");
    check(pool.usage().liveBytes == usage.liveBytes,
          "blocks aligned past a page are not pooled");
    pool.release(wide);
    pool.release(d);
    pool.release(e);
    pool.release(nullptr);
    // What it keeps stays within the peak in use.
    usage = pool.usage();
    check(usage.liveBytes == 0, "everything released");
    check(usage.cachedBytes <= usage.peakLiveBytes, "kept bytes within the peak");
  }

  {
    // A different shape of calls evicts the old blocks it cannot use.
    HostPool pool;
    void *big = pool.allocate(8 * kMiB, 64);
    pool.release(big);
    size_t peak = pool.usage().peakLiveBytes;
    void *blocks[4];
    for (void *&block : blocks)
      block = pool.allocate(3 * kMiB, 64);
    for (void *block : blocks)
      pool.release(block);
    HostPool::Usage usage = pool.usage();
    check(usage.peakLiveBytes == 4 * HostPool::sizeClass(3 * kMiB) &&
              usage.peakLiveBytes > peak,
          "the peak follows the most in use");
    check(usage.cachedBytes <= usage.peakLiveBytes, "kept bytes within the peak");
    void *again = pool.allocate(3 * kMiB, 64);
    check(again == blocks[0] || again == blocks[1] || again == blocks[2] ||
              again == blocks[3],
          "the new shape's blocks are kept");
    pool.release(again);
  }

  {
    // Past the cap the blocks kept longest go, not the one released last.
    HostPool pool;
    void *small[8];
    for (void *&block : small)
      block = pool.allocate(kMiB, 64);
    for (void *block : small)
      pool.release(block);
    void *big = pool.allocate(6 * kMiB, 64); // no kept block fits
    pool.release(big);
    HostPool::Usage usage = pool.usage();
    check(usage.cachedBytes <= usage.peakLiveBytes, "kept bytes within the peak");
    void *again = pool.allocate(6 * kMiB, 64);
    check(again == big, "the block released last is kept, the oldest go");
    pool.release(again);
  }

  return checks::report();
}
