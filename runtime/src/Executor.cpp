//===- Executor.cpp - CPU executor of hybrid.dispatch ---------------------===//

#include "Executor.h"

#include <sched.h>

#include <algorithm>

using namespace hybrid::runtime;

namespace {
/// Iterations of a busy wait before sleeping: a few tens of microseconds,
/// about the gap between two dispatches of a model's host code.
constexpr int kSpins = 20000;

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
} // namespace

int Executor::availableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

Executor::Executor(int threads) {
  for (int i = 1; i < threads; ++i)
    workers_.emplace_back([this, i] { work(i); });
}

Executor::~Executor() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (std::thread &worker : workers_)
    worker.join();
}

void Executor::entry(void *self, Kernel kernel, void *slots, int64_t count,
                     const char *name) {
  auto *executor = static_cast<Executor *>(self);
  if (!executor->profiling_) {
    executor->run(kernel, slots, count);
    return;
  }
  using Clock = std::chrono::steady_clock;
  Clock::time_point start = Clock::now();
  executor->run(kernel, slots, count);
  Clock::time_point end = Clock::now();
  std::chrono::duration<double> since = start - executor->profileStart_;
  std::chrono::duration<double> took = end - start;
  std::lock_guard<std::mutex> lock(executor->eventsMutex_);
  executor->events_.push_back({name, count, since.count(), took.count()});
}

std::vector<Executor::Event> Executor::events() const {
  std::lock_guard<std::mutex> lock(eventsMutex_);
  return events_;
}

void Executor::setProfiling(bool enabled) {
  std::lock_guard<std::mutex> lock(eventsMutex_);
  profiling_ = enabled;
  events_.clear();
  profileStart_ = std::chrono::steady_clock::now();
}

void Executor::runPart(int part) {
  int64_t begin = count_ * part / parts_;
  int64_t end = count_ * (part + 1) / parts_;
  if (begin < end)
    kernel_(slots_, begin, end);
}

void Executor::run(Kernel kernel, void *slots, int64_t count) {
  if (count <= 0)
    return;
  int parts = static_cast<int>(std::min<int64_t>(threads(), count));
  if (parts == 1) {
    kernel(slots, 0, count);
    return;
  }
  std::lock_guard<std::mutex> serial(runMutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    kernel_ = kernel;
    slots_ = slots;
    count_ = count;
    parts_ = parts;
    pending_.store(parts - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  runPart(0);
  for (int spin = 0; spin < kSpins; ++spin) {
    if (pending_.load(std::memory_order_acquire) == 0)
      return;
    cpuRelax();
  }
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
}

void Executor::work(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Wait for a new dispatch: spin first, then sleep.
    uint64_t now = generation_.load(std::memory_order_acquire);
    for (int spin = 0; now == seen && spin < kSpins; ++spin) {
      cpuRelax();
      now = generation_.load(std::memory_order_acquire);
    }
    if (now == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] {
        return generation_.load(std::memory_order_acquire) != seen;
      });
    }
    // The dispatch to join and its size, read together: a late worker must
    // not mix one dispatch's generation with the next one's parts.
    int parts;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stop_)
        return;
      seen = generation_.load(std::memory_order_relaxed);
      parts = parts_;
    }
    // Workers beyond the dispatch's parts sit this one out.
    if (index >= parts)
      continue;
    runPart(index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}
