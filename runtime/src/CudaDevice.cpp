//===- CudaDevice.cpp - CUDA device of the runtime ------------------------===//

#include "CudaDevice.h"

#include <algorithm>

#include <dlfcn.h>

#include <cstring>
#include <vector>

namespace hybrid::runtime {

namespace {
// The driver API's types and constants this file uses (cuda.h, which the
// build does not need).
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
constexpr CUresult kSuccess = 0;
constexpr int kComputeCapabilityMajor = 75; // CU_DEVICE_ATTRIBUTE_...
constexpr int kComputeCapabilityMinor = 76;
constexpr int kMaxSharedMemoryPerBlockOptin = 97;
// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: a kernel must opt in to
// more than 48 KiB of dynamic shared memory per block.
constexpr int kFuncMaxDynamicSharedBytes = 8;
constexpr int64_t kSharedBytesWithoutOptIn = 48 * 1024;
constexpr int kJitErrorLogBuffer = 5; // CU_JIT_ERROR_LOG_BUFFER
constexpr int kJitErrorLogBufferSize = 6;
// CU_STREAM_CAPTURE_MODE_THREAD_LOCAL: other threads' driver calls do not
// disturb a capture.
constexpr int kCaptureThreadLocal = 1;
// cuLaunchKernelEx's configuration, and its one attribute used here:
// CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION.
struct CUlaunchAttribute {
  int id;
  char pad[4];
  union {
    char bytes[64];
    int programmaticStreamSerializationAllowed;
  } value;
};
struct CUlaunchConfig {
  unsigned gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ;
  unsigned sharedMemBytes;
  void *hStream;
  CUlaunchAttribute *attrs;
  unsigned numAttrs;
};
constexpr int kLaunchAttributeProgrammaticStreamSerialization = 6;
// Stream capture keeps programmatic launches as programmatic graph edges
// from CUDA 12.3 (cuDriverGetVersion's 12030) on.
constexpr int kProgrammaticLaunchDriverVersion = 12030;
} // namespace

/// libcuda.so.1 and the entry points used, by their exported names.
struct CudaDriver {
  void *library = nullptr;
#define HYBRID_CUDA_ENTRY(name, ...) CUresult (*name)(__VA_ARGS__) = nullptr;
#define HYBRID_CUDA_ENTRIES                                                    \
  HYBRID_CUDA_ENTRY(cuInit, unsigned)                                          \
  HYBRID_CUDA_ENTRY(cuDriverGetVersion, int *)                                 \
  HYBRID_CUDA_ENTRY(cuGetErrorString, CUresult, const char **)                 \
  HYBRID_CUDA_ENTRY(cuDeviceGetCount, int *)                                   \
  HYBRID_CUDA_ENTRY(cuDeviceGet, CUdevice *, int)                              \
  HYBRID_CUDA_ENTRY(cuDeviceGetName, char *, int, CUdevice)                    \
  HYBRID_CUDA_ENTRY(cuDeviceGetAttribute, int *, int, CUdevice)                \
  HYBRID_CUDA_ENTRY(cuDevicePrimaryCtxRetain, void **, CUdevice)               \
  HYBRID_CUDA_ENTRY(cuDevicePrimaryCtxRelease_v2, CUdevice)                    \
  HYBRID_CUDA_ENTRY(cuCtxSetCurrent, void *)                                   \
  HYBRID_CUDA_ENTRY(cuCtxSynchronize)                                          \
  HYBRID_CUDA_ENTRY(cuModuleLoadDataEx, void **, const void *, unsigned,       \
                    int *, void **)                                            \
  HYBRID_CUDA_ENTRY(cuModuleUnload, void *)                                    \
  HYBRID_CUDA_ENTRY(cuModuleGetFunction, void **, void *, const char *)        \
  HYBRID_CUDA_ENTRY(cuFuncSetAttribute, void *, int, int)                      \
  HYBRID_CUDA_ENTRY(cuMemAlloc_v2, CUdeviceptr *, size_t)                      \
  HYBRID_CUDA_ENTRY(cuMemFree_v2, CUdeviceptr)                                 \
  HYBRID_CUDA_ENTRY(cuMemcpyHtoD_v2, CUdeviceptr, const void *, size_t)        \
  HYBRID_CUDA_ENTRY(cuMemcpyDtoH_v2, void *, CUdeviceptr, size_t)              \
  HYBRID_CUDA_ENTRY(cuMemsetD8_v2, CUdeviceptr, unsigned char, size_t)         \
  HYBRID_CUDA_ENTRY(cuLaunchKernel, void *, unsigned, unsigned, unsigned,      \
                    unsigned, unsigned, unsigned, unsigned, void *, void **,   \
                    void **)                                                   \
  HYBRID_CUDA_ENTRY(cuEventCreate, void **, unsigned)                          \
  HYBRID_CUDA_ENTRY(cuEventRecord, void *, void *)                             \
  HYBRID_CUDA_ENTRY(cuEventElapsedTime, float *, void *, void *)               \
  HYBRID_CUDA_ENTRY(cuEventDestroy_v2, void *)                                 \
  HYBRID_CUDA_ENTRY(cuStreamCreate, void **, unsigned)                         \
  HYBRID_CUDA_ENTRY(cuStreamDestroy_v2, void *)                                \
  HYBRID_CUDA_ENTRY(cuStreamBeginCapture_v2, void *, int)                      \
  HYBRID_CUDA_ENTRY(cuStreamEndCapture, void *, void **)                       \
  HYBRID_CUDA_ENTRY(cuGraphInstantiateWithFlags, void **, void *,              \
                    unsigned long long)                                        \
  HYBRID_CUDA_ENTRY(cuGraphLaunch, void *, void *)                             \
  HYBRID_CUDA_ENTRY(cuGraphExecDestroy, void *)                                \
  HYBRID_CUDA_ENTRY(cuGraphDestroy, void *)
  HYBRID_CUDA_ENTRIES
#undef HYBRID_CUDA_ENTRY
  // CUDA 12 and later; without it every launch is a plain one.
  CUresult (*cuLaunchKernelEx)(const CUlaunchConfig *, void *, void **,
                               void **) = nullptr;

  /// Loads the library and every entry point; "" or what is missing.
  std::string load() {
    library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      const char *why = dlerror();
      return std::string("cannot load the NVIDIA driver library libcuda.so.1 "
                         "(no NVIDIA driver on this machine?): ") +
             (why ? why : "unknown error");
    }
#define HYBRID_CUDA_ENTRY(name, ...)                                           \
  name = reinterpret_cast<decltype(name)>(dlsym(library, #name));              \
  if (!name)                                                                   \
    return "libcuda.so.1 has no " #name ": the NVIDIA driver is too old";
    HYBRID_CUDA_ENTRIES
#undef HYBRID_CUDA_ENTRY
    cuLaunchKernelEx = reinterpret_cast<decltype(cuLaunchKernelEx)>(
        dlsym(library, "cuLaunchKernelEx"));
    return "";
  }
  ~CudaDriver() {
    if (library)
      dlclose(library);
  }
#undef HYBRID_CUDA_ENTRIES
};

bool CudaDevice::check(int result, const char *what) {
  if (result == kSuccess)
    return true;
  if (error_.empty()) {
    const char *text = nullptr;
    if (driver_->cuGetErrorString(result, &text) != kSuccess || !text)
      text = "unknown CUDA error";
    error_ = std::string(what) + " failed: " + text + " (CUDA error " +
             std::to_string(result) + ")";
  }
  return false;
}

std::unique_ptr<CudaDevice> CudaDevice::open(int ordinal,
                                             const std::string &arch,
                                             const std::string &ptx,
                                             const uint8_t *cubin,
                                             size_t cubinSize,
                                             std::string &error) {
  std::unique_ptr<CudaDevice> device(new CudaDevice());
  device->driver_ = std::make_unique<CudaDriver>();
  CudaDriver &cu = *device->driver_;
  error = cu.load();
  if (!error.empty())
    return nullptr;
  auto fail = [&]() -> std::unique_ptr<CudaDevice> {
    error = device->error_;
    return nullptr;
  };
  int count = 0;
  if (!device->check(cu.cuInit(0), "cuInit") ||
      !device->check(cu.cuDeviceGetCount(&count), "cuDeviceGetCount"))
    return fail();
  if (ordinal < 0 || ordinal >= count) {
    error = "no CUDA device " + std::to_string(ordinal) + " (this machine has " +
            std::to_string(count) + ")";
    return nullptr;
  }
  int major = 0, minor = 0, driverVersion = 0;
  char name[256] = {};
  if (!device->check(cu.cuDeviceGet(&device->device_, ordinal), "cuDeviceGet") ||
      !device->check(cu.cuDeviceGetName(name, sizeof name - 1, device->device_),
                     "cuDeviceGetName") ||
      !device->check(cu.cuDeviceGetAttribute(&major, kComputeCapabilityMajor,
                                             device->device_),
                     "cuDeviceGetAttribute") ||
      !device->check(cu.cuDeviceGetAttribute(&minor, kComputeCapabilityMinor,
                                             device->device_),
                     "cuDeviceGetAttribute") ||
      !device->check(cu.cuDeviceGetAttribute(&device->maxSharedBytes_,
                                             kMaxSharedMemoryPerBlockOptin,
                                             device->device_),
                     "cuDeviceGetAttribute") ||
      !device->check(cu.cuDriverGetVersion(&driverVersion),
                     "cuDriverGetVersion"))
    return fail();
  device->canLaunchProgrammatically_ =
      major >= 9 && cu.cuLaunchKernelEx &&
      driverVersion >= kProgrammaticLaunchDriverVersion;
  std::string deviceArch = "sm_" + std::to_string(major * 10 + minor);
  device->description_ = std::string(name) + " (" + deviceArch + ")";
  int wanted = std::atoi(arch.c_str() + (arch.rfind("sm_", 0) == 0 ? 3 : 0));
  // sm_90a's kernels (wgmma) run on that architecture only, not later ones.
  bool archSpecific = !arch.empty() && arch.back() == 'a';
  if (major * 10 + minor < wanted ||
      (archSpecific && major * 10 + minor != wanted)) {
    error = "the kernels are for " + arch +
            (archSpecific ? ", which runs on that architecture only, not "
                          : ", newer than this GPU, ") +
            device->description_ + ": recompile with --cuda-arch=" +
            (major * 10 + minor >= 90 ? "sm_90" : "sm_80");
    return nullptr;
  }
  if (!device->check(cu.cuDevicePrimaryCtxRetain(&device->context_,
                                                 device->device_),
                     "cuDevicePrimaryCtxRetain") ||
      !device->check(cu.cuCtxSetCurrent(device->context_), "cuCtxSetCurrent") ||
      // A stream of its own (graphs cannot be captured on the legacy
      // one), blocking: the synchronous copies on the legacy stream stay
      // ordered with it.
      !device->check(cu.cuStreamCreate(&device->stream_, 0), "cuStreamCreate"))
    return fail();

  // The cubin runs only on its own architecture; the PTX anywhere newer.
  bool useCubin = cubin && cubinSize &&
                  deviceArch == (archSpecific ? arch.substr(0, arch.size() - 1)
                                              : arch);
  std::vector<char> log(16384, '\0');
  int options[] = {kJitErrorLogBuffer, kJitErrorLogBufferSize};
  void *values[] = {log.data(), reinterpret_cast<void *>(log.size() - 1)};
  CUresult loaded = cu.cuModuleLoadDataEx(
      &device->module_, useCubin ? static_cast<const void *>(cubin)
                                 : static_cast<const void *>(ptx.c_str()),
      2, options, values);
  if (!device->check(loaded, useCubin ? "loading the kernels' cubin"
                                      : "compiling the kernels' PTX")) {
    if (log[0])
      device->error_ += ": " + std::string(log.data());
    return fail();
  }
  return device;
}

CudaDevice::~CudaDevice() {
  if (!driver_ || !driver_->library)
    return;
  destroyEvents();
  forgetCalls();
  if (stream_)
    driver_->cuStreamDestroy_v2(stream_);
  for (auto [block, size] : live_)
    kept_.emplace(size, block);
  live_.clear();
  trim();
  if (module_)
    driver_->cuModuleUnload(module_);
  if (context_)
    driver_->cuDevicePrimaryCtxRelease_v2(device_);
}

void *CudaDevice::allocate(size_t bytes) {
  if (bytes == 0)
    return nullptr;
  size_t rounded = (bytes + 511) / 512 * 512;
  if (auto kept = kept_.lower_bound({rounded, nullptr});
      kept != kept_.end() && kept->first == rounded) {
    void *block = kept->second;
    kept_.erase(kept);
    live_.emplace(block, rounded);
    return block;
  }
  CUdeviceptr pointer = 0;
  CUresult result = driver_->cuMemAlloc_v2(&pointer, rounded);
  if (result != kSuccess && !kept_.empty()) {
    trim();
    result = driver_->cuMemAlloc_v2(&pointer, rounded);
  }
  if (!check(result, ("cuMemAlloc of " + std::to_string(bytes) + " bytes").c_str()))
    return nullptr;
  void *block = reinterpret_cast<void *>(static_cast<uintptr_t>(pointer));
  live_.emplace(block, rounded);
  return block;
}

void CudaDevice::release(void *pointer) {
  auto found = live_.find(pointer);
  if (found == live_.end())
    return; // null, or not this device's
  kept_.emplace(found->second, pointer);
  live_.erase(found);
}

void CudaDevice::trim() {
  for (auto [size, block] : kept_)
    check(driver_->cuMemFree_v2(reinterpret_cast<uintptr_t>(block)), "cuMemFree");
  kept_.clear();
}

bool CudaDevice::upload(void *device, const void *host, size_t bytes) {
  return !bytes ||
         check(driver_->cuMemcpyHtoD_v2(reinterpret_cast<uintptr_t>(device),
                                        host, bytes),
               "cuMemcpyHtoD");
}

bool CudaDevice::download(void *host, const void *device, size_t bytes) {
  return !bytes ||
         check(driver_->cuMemcpyDtoH_v2(host, reinterpret_cast<uintptr_t>(device),
                                        bytes),
               "cuMemcpyDtoH");
}

bool CudaDevice::zero(void *device, size_t bytes) {
  return !bytes ||
         check(driver_->cuMemsetD8_v2(reinterpret_cast<uintptr_t>(device), 0,
                                      bytes),
               "cuMemsetD8");
}

void CudaDevice::launch(const char *kernel, const char *label, uint64_t *slots,
                        int64_t slotCount, int64_t workgroups, int64_t blockSize,
                        int64_t workgroupThreads, int64_t sharedBytes) {
  // After a failure the rest of the call is skipped: its inputs are wrong.
  if (!error_.empty() || workgroups <= 0)
    return;
  auto found = functions_.find(kernel);
  if (found == functions_.end()) {
    void *function = nullptr;
    if (!check(driver_->cuModuleGetFunction(&function, module_, kernel),
               (std::string("cuModuleGetFunction(") + kernel + ")").c_str()))
      return;
    // A block's shared memory is fixed per kernel (the plan gives the same
    // bytes at every launch): beyond 48 KiB the kernel opts in once.
    if (sharedBytes > maxSharedBytes_) {
      error_ = std::string("kernel ") + kernel + " needs " +
               std::to_string(sharedBytes) +
               " bytes of shared memory per block, more than the " +
               std::to_string(maxSharedBytes_) +
               " this GPU allows: recompile for its architecture "
               "(--cuda-arch) or with a smaller --scan-chunk-size";
      return;
    }
    if (sharedBytes > kSharedBytesWithoutOptIn &&
        !check(driver_->cuFuncSetAttribute(function, kFuncMaxDynamicSharedBytes,
                                           static_cast<int>(sharedBytes)),
               (std::string("cuFuncSetAttribute(") + kernel +
                ", max dynamic shared memory)")
                   .c_str()))
      return;
    found = functions_.emplace(kernel, function).first;
  }
  Launch launch{found->second,
                label,
                workgroups,
                static_cast<unsigned>(
                    (workgroups * workgroupThreads + blockSize - 1) / blockSize),
                static_cast<unsigned>(blockSize),
                static_cast<unsigned>(sharedBytes),
                std::vector<uint64_t>(slots, slots + slotCount)};
  if (recording_)
    recorded_.push_back(std::move(launch));
  else
    issue(launch);
}

void CudaDevice::issue(const Launch &launch) {
  // A null after the last: the driver reads as many as the kernel has, and
  // a checking stand-in driver (test/Runtime/fake_cuda.c) sees the count.
  std::vector<uint64_t> values = launch.params;
  std::vector<void *> params(values.size() + 1, nullptr);
  for (size_t i = 0; i < values.size(); ++i)
    params[i] = &values[i];
  TimedLaunch timed{launch.label, launch.workgroups, nullptr, nullptr};
  if (profiling_ && (timed.start = newEvent()) && (timed.stop = newEvent()))
    check(driver_->cuEventRecord(timed.start, stream_), "cuEventRecord");
  std::string what = std::string("launching ") + launch.label;
  // Timed launches stay plain: each kernel's time is then its own.
  if (programmatic_ && !profiling_) {
    CUlaunchAttribute early{};
    early.id = kLaunchAttributeProgrammaticStreamSerialization;
    early.value.programmaticStreamSerializationAllowed = 1;
    CUlaunchConfig config{launch.blocks, 1, 1, launch.blockSize, 1, 1,
                          launch.sharedBytes, stream_, &early, 1};
    check(driver_->cuLaunchKernelEx(&config, launch.function, params.data(),
                                    nullptr),
          what.c_str());
  } else {
    check(driver_->cuLaunchKernel(launch.function, launch.blocks, 1, 1,
                                  launch.blockSize, 1, 1, launch.sharedBytes,
                                  stream_, params.data(), nullptr),
          what.c_str());
  }
  if (timed.stop) {
    check(driver_->cuEventRecord(timed.stop, stream_), "cuEventRecord");
    pending_.push_back(timed);
  }
}

void CudaDevice::beginCall() {
  recorded_.clear();
  recording_ = graphs_ && !profiling_;
}

bool CudaDevice::finishCall() {
  recording_ = false;
  std::vector<Launch> launches = std::move(recorded_);
  recorded_.clear();
  if (!error_.empty() || launches.empty())
    return synchronize() && error_.empty();
  auto found = std::find_if(
      remembered_.begin(), remembered_.end(),
      [&](const RememberedCall &call) { return call.launches == launches; });
  if (found == remembered_.end()) {
    // A new list: launched one by one; a graph only pays once it repeats.
    for (const Launch &launch : launches)
      issue(launch);
    if (remembered_.size() == kRememberedCalls) {
      destroyGraph(remembered_.back());
      remembered_.pop_back();
    }
    remembered_.insert(remembered_.begin(), RememberedCall{std::move(launches)});
    return synchronize();
  }
  std::rotate(remembered_.begin(), found, found + 1);
  RememberedCall &call = remembered_.front();
  if (!call.exec) {
    if (!check(driver_->cuStreamBeginCapture_v2(stream_, kCaptureThreadLocal),
               "cuStreamBeginCapture"))
      return false;
    for (const Launch &launch : call.launches)
      issue(launch);
    bool captured = check(driver_->cuStreamEndCapture(stream_, &call.graph),
                          "cuStreamEndCapture");
    if (!captured || !error_.empty() ||
        !check(driver_->cuGraphInstantiateWithFlags(&call.exec, call.graph, 0),
               "cuGraphInstantiate")) {
      destroyGraph(call);
      return false;
    }
  }
  return check(driver_->cuGraphLaunch(call.exec, stream_), "cuGraphLaunch") &&
         synchronize();
}

void CudaDevice::useGraphs(bool enabled) {
  graphs_ = enabled;
  if (!enabled)
    forgetCalls();
}

void CudaDevice::useProgrammaticLaunch(bool enabled) {
  programmatic_ = enabled && canLaunchProgrammatically_;
  forgetCalls(); // graphs captured the other way
}

void CudaDevice::destroyGraph(RememberedCall &call) {
  if (call.exec)
    driver_->cuGraphExecDestroy(call.exec);
  if (call.graph)
    driver_->cuGraphDestroy(call.graph);
  call.exec = call.graph = nullptr;
}

void CudaDevice::forgetCalls() {
  for (RememberedCall &call : remembered_)
    destroyGraph(call);
  remembered_.clear();
}

void *CudaDevice::newEvent() {
  void *event = nullptr;
  if (!check(driver_->cuEventCreate(&event, 0), "cuEventCreate"))
    return nullptr;
  return event;
}

void CudaDevice::destroyEvents() {
  for (const TimedLaunch &launch : pending_)
    for (void *event : {launch.start, launch.stop})
      if (event)
        driver_->cuEventDestroy_v2(event);
  pending_.clear();
  if (profileStart_)
    driver_->cuEventDestroy_v2(profileStart_);
  profileStart_ = nullptr;
}

void CudaDevice::setProfiling(bool enabled) {
  destroyEvents();
  timed_.clear();
  profiling_ = enabled;
  if (enabled && (profileStart_ = newEvent()))
    check(driver_->cuEventRecord(profileStart_, stream_), "cuEventRecord");
}

std::vector<Executor::Event> CudaDevice::events() {
  if (!pending_.empty() && profileStart_ && synchronize()) {
    for (const TimedLaunch &launch : pending_) {
      float sinceStart = 0, took = 0;
      if (!check(driver_->cuEventElapsedTime(&sinceStart, profileStart_,
                                             launch.start),
                 "cuEventElapsedTime") ||
          !check(driver_->cuEventElapsedTime(&took, launch.start, launch.stop),
                 "cuEventElapsedTime"))
        break;
      timed_.push_back({launch.label, launch.workgroups, sinceStart * 1e-3,
                        took * 1e-3});
    }
    for (const TimedLaunch &launch : pending_) {
      driver_->cuEventDestroy_v2(launch.start);
      driver_->cuEventDestroy_v2(launch.stop);
    }
    pending_.clear();
  }
  return timed_;
}

bool CudaDevice::synchronize() {
  return check(driver_->cuCtxSynchronize(), "running the kernels");
}

void CudaDevice::launchEntry(void *self, const char *kernel,
                             const char *label, uint64_t *slots,
                             int64_t slotCount, int64_t workgroups,
                             int64_t blockSize, int64_t workgroupThreads,
                             int64_t sharedBytes) {
  static_cast<CudaDevice *>(self)->launch(kernel, label, slots, slotCount,
                                          workgroups,
                                          blockSize, workgroupThreads,
                                          sharedBytes);
}

void *CudaDevice::allocateEntry(void *self, int64_t bytes) {
  return static_cast<CudaDevice *>(self)->allocate(static_cast<size_t>(bytes));
}

void CudaDevice::releaseEntry(void *self, void *pointer) {
  static_cast<CudaDevice *>(self)->release(pointer);
}

} // namespace hybrid::runtime
