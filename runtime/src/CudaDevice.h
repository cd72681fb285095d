//===- CudaDevice.h - CUDA device of the runtime ----------------*- C++ -*-===//
//
// Runs a CUDA artifact: the driver library (libcuda.so.1) is opened with
// dlopen and used through a table of its C entry points, so that nothing
// CUDA is needed to build the runtime and its absence only disables this
// device. The artifact's host plan calls back into it for every buffer it
// allocates or frees and every kernel it launches (see
// convert-hybrid-dispatch-to-llvm for the ABI).
//
//===----------------------------------------------------------------------===//

#ifndef HYBRIDC_RUNTIME_SRC_CUDADEVICE_H
#define HYBRIDC_RUNTIME_SRC_CUDADEVICE_H

#include "Executor.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace hybrid::runtime {

struct CudaDriver; // the dlopen'ed entry points

class CudaDevice {
public:
  /// Opens the driver, device `ordinal`'s primary context, and loads the
  /// kernels: the cubin when it is for this device's architecture, else the
  /// PTX (which the driver compiles). Returns null and sets `error` when
  /// any of it fails (no driver, no device, too old an architecture).
  static std::unique_ptr<CudaDevice> open(int ordinal, const std::string &arch,
                                          const std::string &ptx,
                                          const uint8_t *cubin,
                                          size_t cubinSize, std::string &error);
  ~CudaDevice();
  CudaDevice(const CudaDevice &) = delete;
  CudaDevice &operator=(const CudaDevice &) = delete;

  /// Device memory; null (and error() set) on failure. Released blocks are
  /// kept and handed out again for the same rounded size: a call's plan
  /// allocates the same buffers every time, and cuMemAlloc / cuMemFree
  /// (which synchronises) per buffer per call would dominate decode. Reuse
  /// is safe without waiting because every launch is on one stream, in
  /// order. When cuMemAlloc runs out, the kept blocks are freed and it is
  /// tried again.
  void *allocate(size_t bytes);
  void release(void *pointer);
  /// Frees the kept blocks.
  void trim();
  bool upload(void *device, const void *host, size_t bytes);
  bool download(void *host, const void *device, size_t bytes);
  bool zero(void *device, size_t bytes);
  /// Launches `kernel` over `workgroups` workgroups of `workgroupThreads`
  /// threads (1, a warp or the block) in blocks of `blockSize` threads with
  /// `sharedBytes` of dynamic shared memory each, its parameters the 8-byte
  /// `slots` (within a call: see beginCall). `label` names the launch in
  /// profiles: the kernel the plan's dispatch was formed for, which
  /// hybrid-deduplicate-kernels may have replaced by an identical one.
  void launch(const char *kernel, const char *label, uint64_t *slots,
              int64_t slotCount,
              int64_t workgroups, int64_t blockSize, int64_t workgroupThreads,
              int64_t sharedBytes);
  /// Waits for every launch; false when one failed.
  bool synchronize();

  /// A call of the plan: its launches are recorded (the plan never reads
  /// device memory, so nothing waits for them) and finishCall() issues
  /// them. When they repeat one of the last kRememberedCalls calls' exactly
  /// (same kernels, grids and parameters, as decode steps do once the
  /// buffer pool is steady: several lists in turn when a session's
  /// sequences take several calls a step), they go as one CUDA graph:
  /// captured the first time, then relaunched with one cuGraphLaunch
  /// instead of a launch per kernel. Otherwise (prefill, a new shape) they
  /// go one by one. Profiling, and useGraphs(false), launch each kernel at
  /// once.
  void beginCall();
  /// Issues the call's launches and waits for them; false when one failed.
  bool finishCall();
  void useGraphs(bool enabled);
  /// Launches each kernel with programmatic stream serialization, so that
  /// it may start before the kernel ahead of it completes: for kernels that
  /// wait for the grid before them themselves (an artifact's
  /// programmatic_launch), on sm_90 and later with a CUDA 12.3 driver or
  /// newer (which captures such launches into graphs); elsewhere launches
  /// stay plain.
  void useProgrammaticLaunch(bool enabled);

  /// Starts (clearing what was recorded) or stops timing every launch with
  /// CUDA events around it, as the CPU executor times its dispatches.
  void setProfiling(bool enabled);
  /// What was timed so far; waits for the timed launches.
  std::vector<Executor::Event> events();

  /// The first failure since the last clearError(), "" when none.
  const std::string &error() const { return error_; }
  void clearError() { error_.clear(); }
  /// e.g. "NVIDIA H100 80GB HBM3 (sm_90)".
  const std::string &description() const { return description_; }

  // The C entry points installed in the host plan's globals.
  static void launchEntry(void *self, const char *kernel, const char *label,
                          uint64_t *slots, int64_t slotCount, int64_t workgroups,
                          int64_t blockSize, int64_t workgroupThreads,
                          int64_t sharedBytes);
  static void *allocateEntry(void *self, int64_t bytes);
  static void releaseEntry(void *self, void *pointer);

private:
  CudaDevice() = default;
  /// Records `what` failed with CUDA result `result`; returns false.
  bool check(int result, const char *what);

  std::unique_ptr<CudaDriver> driver_;
  int device_ = 0;
  int maxSharedBytes_ = 0; // a block's shared memory, opted in
  void *context_ = nullptr; // CUcontext (primary)
  void *module_ = nullptr;  // CUmodule
  std::map<std::string, void *> functions_; // name -> CUfunction
  std::map<void *, size_t> live_;           // allocation -> rounded size
  // Released blocks by (rounded size, address). The lowest address of a
  // size goes first: then which block a call gets depends only on which
  // blocks are free, not on the order they were released in, so repeated
  // calls get the same buffers (and can be replayed as one graph).
  std::set<std::pair<size_t, void *>> kept_;
  void *stream_ = nullptr;                  // CUstream: every launch, in order
  // One kernel launch as the driver gets it.
  struct Launch {
    void *function; // CUfunction
    const char *label;
    int64_t workgroups;
    unsigned blocks, blockSize, sharedBytes;
    std::vector<uint64_t> params;
    bool operator==(const Launch &other) const {
      return function == other.function && blocks == other.blocks &&
             blockSize == other.blockSize &&
             sharedBytes == other.sharedBytes && params == other.params;
    }
  };
  void issue(const Launch &launch);
  bool graphs_ = true, recording_ = false;
  bool canLaunchProgrammatically_ = false, programmatic_ = false;
  std::vector<Launch> recorded_; // this call's
  // A recent call's launches, and their graph once they repeated.
  struct RememberedCall {
    std::vector<Launch> launches;
    void *graph = nullptr, *exec = nullptr; // CUgraph, CUgraphExec
  };
  static constexpr size_t kRememberedCalls = 8;
  std::vector<RememberedCall> remembered_; // the most recent first
  void destroyGraph(RememberedCall &call);
  void forgetCalls();
  // Profiling: an event recorded when it started, then one pair per launch
  // until events() reads their times.
  struct TimedLaunch {
    const char *label;
    int64_t workgroups;
    void *start, *stop; // CUevent
  };
  bool profiling_ = false;
  void *profileStart_ = nullptr;
  std::vector<TimedLaunch> pending_;
  std::vector<Executor::Event> timed_;
  void *newEvent();
  void destroyEvents();
  std::string error_, description_;
};

} // namespace hybrid::runtime

#endif // HYBRIDC_RUNTIME_SRC_CUDADEVICE_H
