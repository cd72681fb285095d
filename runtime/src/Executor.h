//===- Executor.h - CPU executor of hybrid.dispatch -------------*- C++ -*-===//
//
// The generated code calls the installed executor for every dispatch with a
// packed kernel, its operand slots and a workgroup count. This one splits
// the workgroups into one contiguous range per thread, runs the first range
// on the calling thread and the others on its worker threads, and returns
// when all are done. Workers spin briefly for the next dispatch (dispatches
// follow each other closely), then sleep.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRIDC_RUNTIME_SRC_EXECUTOR_H
#define HYBRIDC_RUNTIME_SRC_EXECUTOR_H

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hybrid::runtime {

class Executor {
public:
  using Kernel = void (*)(void *slots, int64_t begin, int64_t end);

  /// `threads` in all, the calling thread included (at least 1).
  explicit Executor(int threads);
  ~Executor();
  Executor(const Executor &) = delete;
  Executor &operator=(const Executor &) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }
  /// Runs workgroups [0, count) of `kernel`; one dispatch at a time.
  void run(Kernel kernel, void *slots, int64_t count);
  /// The C entry point installed in the generated code's `hybrid_executor`.
  static void entry(void *self, Kernel kernel, void *slots, int64_t count,
                    const char *name);

  /// One timed dispatch.
  struct Event {
    const char *kernel; // a string constant of the generated code
    int64_t workgroups;
    double start, seconds; // since profiling started
  };
  /// Starts (clearing what was recorded) or stops timing every dispatch.
  void setProfiling(bool enabled);
  /// What was timed so far (a copy: dispatches may still be recorded).
  std::vector<Event> events() const;

  /// The CPUs this process may run on.
  static int availableCores();

private:
  void work(int index);
  /// The workgroups of part `part` of the current dispatch.
  void runPart(int part);

  std::vector<std::thread> workers_;
  std::mutex runMutex_; // serialises dispatches from concurrent callers
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  bool stop_ = false;
  // The current dispatch, published by incrementing generation_.
  Kernel kernel_ = nullptr;
  void *slots_ = nullptr;
  int64_t count_ = 0;
  int parts_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  // Profiling.
  bool profiling_ = false;
  mutable std::mutex eventsMutex_;
  std::chrono::steady_clock::time_point profileStart_;
  std::vector<Event> events_;
};

} // namespace hybrid::runtime

#endif // HYBRIDC_RUNTIME_SRC_EXECUTOR_H
