/*===- fake_cuda.c - A stand-in libcuda.so.1 that checks its callers -------===*
 *
 * Loaded instead of NVIDIA's driver (LD_LIBRARY_PATH) by the tests of the
 * runtime's CUDA device on machines without a GPU. It runs no kernel: it
 * checks that the runtime and the artifact's host plan use the driver the
 * way a GPU needs, and fails loudly otherwise:
 *
 *   - device memory lives at non-canonical addresses (bit 62 set), so any
 *     host access to it (the plan reading a device buffer) faults;
 *   - every launch names a kernel of the loaded PTX, passes exactly its
 *     parameter count (the runtime ends its array with a null), the grid
 *     covers the workgroup count (a block per workgroup for a kernel with
 *     barriers) with no block to spare, and every `.ptr` parameter points
 *     into a live device allocation;
 *   - a kernel whose PTX uses `.extern .shared` memory is launched with
 *     dynamic shared memory, any other without; more than 48 KiB needs the
 *     kernel's cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES) first, and
 *     no more than the device's opt-in limit (227 KiB for sm_90, 163 KiB
 *     for sm_80, 99 KiB for others: FAKE_CUDA_ARCH);
 *   - copies stay inside allocations; at exit every allocation (and every
 *     event, stream and graph) is freed;
 *   - a CUDA graph holds the launches captured on a stream (no copy,
 *     allocation or graph launch may come while capturing) and each
 *     cuGraphLaunch repeats their checks: their buffers must still be live;
 *   - a launch with programmatic stream serialization (cuLaunchKernelEx),
 *     which may start before the kernel ahead of it completes, needs an
 *     sm_90 device, a driver of CUDA 12.3 or later when captured
 *     (FAKE_CUDA_DRIVER_VERSION, default 12080), and a kernel whose PTX
 *     waits for the grid before it (griddepcontrol.wait) before its first
 *     memory access (a prefetch into L2 is none: it may come first).
 *
 * Device memory reads as zeros (kernels do not run), so logits are zero.
 * FAKE_CUDA_FAIL=<entry point> makes that entry point fail (error 2, out of
 * memory) to test the runtime's error paths. FAKE_CUDA_TRACE=1 prints each
 * launch's kernel and workgroup count. A summary goes to stderr.
 *
 *===----------------------------------------------------------------------===*/

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

#define DEVICE_BIT (1ull << 62)
#define MAX_ALLOCATIONS 65536
#define MAX_KERNELS 4096
#define MAX_PARAMS 1024

static struct {
  void *host;
  size_t size;
} allocations[MAX_ALLOCATIONS];
static long live, allocated, launches, checkedPointers, largestShared;

static struct {
  char name[256];
  int params;
  int workgroupThreads; /* the block (0 here) when the body has barriers,
                           else 1 */
  int usesDynamicShared; /* its body names an `.extern .shared` array */
  int optedInSharedBytes; /* cuFuncSetAttribute's maximum, 48 KiB before */
  int waitsFirst; /* griddepcontrol.wait before any memory access */
  unsigned char isPointer[MAX_PARAMS];
} kernels[MAX_KERNELS];
static int kernelCount, moduleLoaded;

static void die(const char *what, const char *detail) {
  fprintf(stderr, "fake-cuda: FAILED: %s%s%s\n", what, detail ? ": " : "",
          detail ? detail : "");
  fflush(stderr);
  abort();
}

static int failing(const char *entry) {
  const char *fail = getenv("FAKE_CUDA_FAIL");
  return fail && strcmp(fail, entry) == 0;
}

/* The allocation holding the `bytes` at device address `p` (with 0 bytes:
   any address from its start to one past its end), or -1. */
static int find(CUdeviceptr p, size_t bytes) {
  if (!(p & DEVICE_BIT))
    return -1;
  uintptr_t host = (uintptr_t)(p & ~DEVICE_BIT);
  for (int i = 0; i < MAX_ALLOCATIONS; ++i) {
    uintptr_t base = (uintptr_t)allocations[i].host;
    if (base && host >= base && host + bytes <= base + allocations[i].size)
      return i;
  }
  return -1;
}

static void *hostOf(CUdeviceptr p, size_t bytes, const char *what) {
  if (find(p, bytes) < 0)
    die(what, "address outside every device allocation");
  return (void *)(uintptr_t)(p & ~DEVICE_BIT);
}

/* Streams and graphs: a graph records the launches captured on a stream
   and repeats their checks at each cuGraphLaunch. */
#define MAX_GRAPH_LAUNCHES 2048
struct Graph {
  int count;
  struct {
    int kernel, programmatic;
    uint64_t values[MAX_PARAMS];
  } launches[MAX_GRAPH_LAUNCHES];
};
static struct Graph *capturing;
static long liveEvents, liveStreams, liveGraphs, graphLaunches;
static long programmaticLaunches;
static void report(void) {
  fprintf(stderr,
          "fake-cuda: %ld launches checked (%ld pointer parameters), %ld "
          "allocations, %ld not freed; %ld graph launches; at most %ld bytes "
          "of shared memory per block; %ld of the launches programmatic\n",
          launches, checkedPointers, allocated,
          live + liveEvents + liveStreams + liveGraphs, graphLaunches,
          largestShared, programmaticLaunches);
}
static void notCapturing(const char *what) {
  if (capturing)
    die(what, "called while a stream is being captured");
}

CUresult cuInit(unsigned flags) {
  (void)flags;
  atexit(report);
  return failing("cuInit") ? 100 /* CUDA_ERROR_NO_DEVICE */ : 0;
}

CUresult cuGetErrorString(CUresult error, const char **text) {
  *text = error == 2     ? "out of memory"
          : error == 100 ? "no CUDA-capable device is detected"
          : error == 218 ? "a PTX JIT compilation failed"
                         : "unknown error";
  return 0;
}

static int driverVersion(void) {
  const char *version = getenv("FAKE_CUDA_DRIVER_VERSION");
  return version ? atoi(version) : 12080;
}
CUresult cuDriverGetVersion(int *version) {
  *version = driverVersion();
  return 0;
}

CUresult cuDeviceGetCount(int *count) {
  *count = 1;
  return 0;
}
CUresult cuDeviceGet(int *device, int ordinal) {
  *device = ordinal;
  return 0;
}
CUresult cuDeviceGetName(char *name, int length, int device) {
  (void)device;
  snprintf(name, (size_t)length, "Fake CUDA device");
  return 0;
}
static int computeCapability(void) {
  const char *arch = getenv("FAKE_CUDA_ARCH"); /* e.g. 80; default 90 */
  return arch ? atoi(arch) : 90;
}
/* CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN of the H100, the
   A100 and the sm_86/sm_89 GPUs. */
static int maxSharedBytes(void) {
  int cc = computeCapability();
  return cc >= 90 ? 227 * 1024 : cc == 80 ? 163 * 1024 : 99 * 1024;
}
CUresult cuDeviceGetAttribute(int *value, int attribute, int device) {
  (void)device;
  int cc = computeCapability();
  *value = attribute == 75   ? cc / 10
           : attribute == 76 ? cc % 10
           : attribute == 97 ? maxSharedBytes()
                             : 0;
  return 0;
}
CUresult cuDevicePrimaryCtxRetain(void **context, int device) {
  (void)device;
  *context = (void *)0x1;
  return 0;
}
CUresult cuDevicePrimaryCtxRelease_v2(int device) {
  (void)device;
  return 0;
}
CUresult cuCtxSetCurrent(void *context) {
  (void)context;
  return 0;
}
CUresult cuCtxSynchronize(void) { return 0; }

/* Whether the first instruction of the body from `at` to `end` (or the
   text's end) that touches memory, ld.param aside, comes after a
   griddepcontrol.wait. */
static int waitsBeforeMemory(const char *at, const char *end) {
  static const char *const accesses[] = {"ld.", "st.", "atom.", "red.",
                                         "cp.", "ldmatrix", "wgmma"};
  for (const char *line = at; line && (!end || line < end);
       line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    while (*line == ' ' || *line == '\t')
      ++line;
    if (*line == '@') /* a predicate guard */
      while (*line && *line != ' ' && *line != '\t' && *line != '\n')
        ++line;
    while (*line == ' ' || *line == '\t')
      ++line;
    if (strncmp(line, "griddepcontrol.wait", 19) == 0)
      return 1;
    if (strncmp(line, "ld.param", 8) == 0)
      continue;
    for (size_t i = 0; i < sizeof accesses / sizeof accesses[0]; ++i)
      if (strncmp(line, accesses[i], strlen(accesses[i])) == 0)
        return 0;
  }
  return 0;
}

/* Reads the `.entry NAME(` lines of the PTX and their parameters. */
CUresult cuModuleLoadDataEx(void **module, const void *image, unsigned count,
                            int *options, void **values) {
  (void)count, (void)options, (void)values;
  if (failing("cuModuleLoadDataEx"))
    return 218;
  const char *text = (const char *)image;
  if (strncmp(text, "\x7f" "ELF", 4) == 0)
    die("cuModuleLoadDataEx", "a cubin; the fake reads PTX (compile without "
                              "ptxas or for another architecture)");
  /* The `.extern .shared .align A .b8 NAME[];` arrays. */
  char externShared[8][256];
  int externCount = 0;
  for (const char *e = text; (e = strstr(e, ".extern .shared")) != NULL; ++e) {
    const char *open = strchr(e, '[');
    const char *name = open;
    while (name && name > e && name[-1] != ' ')
      --name;
    if (!open || externCount == 8 || (size_t)(open - name) >= 256)
      die("cuModuleLoadDataEx", "malformed .extern .shared");
    memcpy(externShared[externCount], name, (size_t)(open - name));
    externShared[externCount++][open - name] = '\0';
  }
  const char *at = text;
  while ((at = strstr(at, ".entry ")) != NULL) {
    at += 7;
    const char *open = strchr(at, '(');
    const char *close = open ? strchr(open, ')') : NULL;
    if (!close || kernelCount == MAX_KERNELS)
      die("cuModuleLoadDataEx", "malformed .entry");
    size_t length = (size_t)(open - at);
    if (length >= sizeof kernels[0].name)
      die("cuModuleLoadDataEx", "kernel name too long");
    memcpy(kernels[kernelCount].name, at, length);
    int params = 0;
    for (const char *p = open; p < close && (p = strstr(p, ".param")) && p < close;
         p += 6) {
      const char *end = strchr(p, '\n');
      if (params == MAX_PARAMS)
        die("cuModuleLoadDataEx", "too many parameters");
      kernels[kernelCount].isPointer[params++] =
          end && strstr(p, ".ptr") && strstr(p, ".ptr") < end;
    }
    kernels[kernelCount].params = params;
    /* Barriers: the kernel runs a workgroup per block. */
    const char *next = strstr(close, ".entry ");
    const char *barrier = strstr(close, "bar.sync");
    kernels[kernelCount].workgroupThreads =
        barrier && (!next || barrier < next) ? 0 : 1;
    kernels[kernelCount].waitsFirst = waitsBeforeMemory(close, next);
    for (int i = 0; i < externCount; ++i) {
      const char *use = strstr(close, externShared[i]);
      if (use && (!next || use < next))
        kernels[kernelCount].usesDynamicShared = 1;
    }
    kernels[kernelCount++].optedInSharedBytes = 48 * 1024;
    at = close;
  }
  if (kernelCount == 0)
    die("cuModuleLoadDataEx", "no kernel in the PTX");
  moduleLoaded = 1;
  *module = (void *)0x2;
  return 0;
}
CUresult cuModuleUnload(void *module) {
  (void)module;
  return 0;
}
CUresult cuModuleGetFunction(void **function, void *module, const char *name) {
  (void)module;
  for (int i = 0; i < kernelCount; ++i)
    if (strcmp(kernels[i].name, name) == 0) {
      *function = &kernels[i];
      return 0;
    }
  die("cuModuleGetFunction: no kernel named", name);
  return 500;
}

/* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES only; more than the
   device allows is CUDA_ERROR_INVALID_VALUE, as from the driver. */
CUresult cuFuncSetAttribute(void *function, int attribute, int value) {
  if (failing("cuFuncSetAttribute"))
    return 2;
  if (attribute != 8)
    die("cuFuncSetAttribute", "an attribute other than the maximum dynamic "
                              "shared memory");
  if (value < 0 || value > maxSharedBytes())
    return 1;
  int kernel = (int)(((char *)function - (char *)kernels) / sizeof kernels[0]);
  kernels[kernel].optedInSharedBytes = value;
  return 0;
}

CUresult cuMemAlloc_v2(CUdeviceptr *pointer, size_t bytes) {
  notCapturing("cuMemAlloc_v2");
  if (failing("cuMemAlloc_v2") || bytes == 0)
    return 2;
  for (int i = 0; i < MAX_ALLOCATIONS; ++i)
    if (!allocations[i].host) {
      allocations[i].host = calloc(1, bytes);
      allocations[i].size = bytes;
      ++live, ++allocated;
      *pointer = (CUdeviceptr)(uintptr_t)allocations[i].host | DEVICE_BIT;
      return 0;
    }
  die("cuMemAlloc", "too many live allocations");
  return 2;
}
CUresult cuMemFree_v2(CUdeviceptr pointer) {
  notCapturing("cuMemFree_v2");
  int i = find(pointer, 1);
  if (i < 0 || (uintptr_t)allocations[i].host != (uintptr_t)(pointer & ~DEVICE_BIT))
    die("cuMemFree", "not the start of a device allocation");
  free(allocations[i].host);
  allocations[i].host = NULL;
  --live;
  return 0;
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr to, const void *from, size_t bytes) {
  notCapturing("cuMemcpyHtoD_v2");
  memcpy(hostOf(to, bytes, "cuMemcpyHtoD"), from, bytes);
  return 0;
}
CUresult cuMemcpyDtoH_v2(void *to, CUdeviceptr from, size_t bytes) {
  notCapturing("cuMemcpyDtoH_v2");
  memcpy(to, hostOf(from, bytes, "cuMemcpyDtoH"), bytes);
  return 0;
}
CUresult cuMemsetD8_v2(CUdeviceptr to, unsigned char value, size_t bytes) {
  notCapturing("cuMemsetD8_v2");
  memset(hostOf(to, bytes, "cuMemsetD8"), value, bytes);
  return 0;
}

/* Events read a clock that each record advances by 1 microsecond. */
static long clockTicks;
typedef struct {
  long recorded;
} FakeEvent;
CUresult cuEventCreate(void **event, unsigned flags) {
  (void)flags;
  *event = calloc(1, sizeof(FakeEvent));
  ++liveEvents;
  return 0;
}
CUresult cuEventRecord(void *event, void *stream) {
  (void)stream;
  ((FakeEvent *)event)->recorded = ++clockTicks;
  return 0;
}
CUresult cuEventElapsedTime(float *ms, void *start, void *stop) {
  if (!((FakeEvent *)start)->recorded || !((FakeEvent *)stop)->recorded)
    die("cuEventElapsedTime", "an event that was never recorded");
  *ms = (float)(((FakeEvent *)stop)->recorded - ((FakeEvent *)start)->recorded) *
        1e-3f;
  return 0;
}
CUresult cuEventDestroy_v2(void *event) {
  free(event);
  --liveEvents;
  return 0;
}

/* Every pointer parameter of a launch of `kernel` points into live device
   memory (checked when it runs: at once, or at each launch of its graph). */
static void checkLaunch(int kernel, const uint64_t *values, int programmatic) {
  const char *name = kernels[kernel].name;
  for (int i = 0; i < kernels[kernel].params; ++i) {
    if (!kernels[kernel].isPointer[i])
      continue;
    CUdeviceptr value = values[i];
    /* A zero-sized buffer's descriptor may hold null. */
    if (value && find(value, 0) < 0) {
      char detail[512];
      snprintf(detail, sizeof detail, "%s parameter %d = %#llx", name, i,
               value);
      die("cuLaunchKernel: a pointer outside device memory", detail);
    }
    ++checkedPointers;
  }
  ++launches;
  programmaticLaunches += programmatic != 0;
  if (getenv("FAKE_CUDA_TRACE"))
    fprintf(stderr, "fake-cuda: launch %s (%llu workgroups)\n", name,
            (unsigned long long)values[0]);
}

/* A launch of either entry point; `programmatic`: with programmatic
   stream serialization. */
static CUresult launchKernel(void *function, unsigned gx, unsigned bx,
                             unsigned shared, void **params, void **extra,
                             int programmatic) {
  if (!moduleLoaded || extra)
    die("cuLaunchKernel", "no module, or extra parameters");
  if (failing("cuLaunchKernel"))
    return 2;
  const char *name = ((const char *)function);
  int kernel = (int)(((char *)function - (char *)kernels) / sizeof kernels[0]);
  if (programmatic) {
    if (computeCapability() < 90)
      die("cuLaunchKernelEx: programmatic stream serialization on a device "
          "before sm_90, for",
          name);
    if (capturing && driverVersion() < 12030)
      die("cuLaunchKernelEx: a programmatic launch captured by a driver "
          "before CUDA 12.3, for",
          name);
    if (!kernels[kernel].waitsFirst)
      die("cuLaunchKernelEx: a programmatic launch of a kernel that touches "
          "memory before griddepcontrol.wait",
          name);
  }
  /* The first parameter is the workgroup count: the grid must cover its
     threads, with no block to spare. */
  uint64_t threads = *(const uint64_t *)params[0] *
                     (uint64_t)(kernels[kernel].workgroupThreads
                                    ? kernels[kernel].workgroupThreads
                                    : bx);
  if ((uint64_t)gx * bx < threads || (uint64_t)(gx - 1) * bx >= threads)
    die("cuLaunchKernel: the grid does not fit the workgroups of", name);
  /* Dynamic shared memory for the kernels that use it, within what each
     opted in to. */
  if (kernels[kernel].usesDynamicShared != (shared > 0))
    die(shared ? "cuLaunchKernel: dynamic shared memory for a kernel whose "
                 "PTX uses none"
               : "cuLaunchKernel: no dynamic shared memory for a kernel whose "
                 "PTX uses it",
        name);
  if ((int)shared > kernels[kernel].optedInSharedBytes)
    die("cuLaunchKernel: more shared memory than the kernel opted in to "
        "(cuFuncSetAttribute)",
        name);
  if (shared > (unsigned)largestShared)
    largestShared = shared;
  /* The runtime ends the array with a null: exactly the kernel's count. */
  for (int i = 0; i <= kernels[kernel].params; ++i)
    if ((params[i] == NULL) != (i == kernels[kernel].params))
      die("cuLaunchKernel: parameters do not match the PTX of", name);
  if (capturing) {
    if (capturing->count == MAX_GRAPH_LAUNCHES)
      die("cuLaunchKernel", "too many launches in one graph");
    capturing->launches[capturing->count].kernel = kernel;
    capturing->launches[capturing->count].programmatic = programmatic;
    for (int i = 0; i < kernels[kernel].params; ++i)
      capturing->launches[capturing->count].values[i] =
          *(const uint64_t *)params[i];
    ++capturing->count;
    return 0;
  }
  uint64_t values[MAX_PARAMS];
  for (int i = 0; i < kernels[kernel].params; ++i)
    values[i] = *(const uint64_t *)params[i];
  checkLaunch(kernel, values, programmatic);
  return 0;
}

CUresult cuLaunchKernel(void *function, unsigned gx, unsigned gy, unsigned gz,
                        unsigned bx, unsigned by, unsigned bz, unsigned shared,
                        void *stream, void **params, void **extra) {
  (void)gy, (void)gz, (void)by, (void)bz, (void)stream;
  return launchKernel(function, gx, bx, shared, params, extra, 0);
}

/* cuLaunchKernelEx's configuration (cuda.h), with programmatic stream
   serialization (attribute 6) its only attribute the runtime may set. */
typedef struct {
  int id;
  char pad[4];
  union {
    char bytes[64];
    int programmaticStreamSerializationAllowed;
  } value;
} CUlaunchAttribute;
typedef struct {
  unsigned gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ;
  unsigned sharedMemBytes;
  void *hStream;
  CUlaunchAttribute *attrs;
  unsigned numAttrs;
} CUlaunchConfig;
CUresult cuLaunchKernelEx(const CUlaunchConfig *config, void *function,
                          void **params, void **extra) {
  int programmatic = 0;
  for (unsigned i = 0; i < config->numAttrs; ++i) {
    if (config->attrs[i].id != 6)
      die("cuLaunchKernelEx", "an attribute other than programmatic stream "
                              "serialization");
    programmatic = config->attrs[i].value.programmaticStreamSerializationAllowed;
  }
  return launchKernel(function, config->gridDimX, config->blockDimX,
                      config->sharedMemBytes, params, extra, programmatic);
}

CUresult cuStreamCreate(void **stream, unsigned flags) {
  (void)flags;
  *stream = (void *)0x3;
  ++liveStreams;
  return 0;
}
CUresult cuStreamDestroy_v2(void *stream) {
  (void)stream;
  --liveStreams;
  return 0;
}
CUresult cuStreamBeginCapture_v2(void *stream, int mode) {
  (void)stream, (void)mode;
  notCapturing("cuStreamBeginCapture");
  capturing = calloc(1, sizeof *capturing);
  ++liveGraphs;
  return 0;
}
CUresult cuStreamEndCapture(void *stream, void **graph) {
  (void)stream;
  if (!capturing)
    die("cuStreamEndCapture", "no capture began");
  *graph = capturing;
  capturing = NULL;
  return 0;
}
/* The executable graph is the graph itself; it counts as one more live
   object until destroyed. */
CUresult cuGraphInstantiateWithFlags(void **exec, void *graph,
                                     unsigned long long flags) {
  (void)flags;
  *exec = graph;
  ++liveGraphs;
  return 0;
}
CUresult cuGraphLaunch(void *exec, void *stream) {
  (void)stream;
  notCapturing("cuGraphLaunch");
  if (failing("cuGraphLaunch"))
    return 2;
  struct Graph *graph = exec;
  for (int i = 0; i < graph->count; ++i)
    checkLaunch(graph->launches[i].kernel, graph->launches[i].values,
                graph->launches[i].programmatic);
  ++graphLaunches;
  return 0;
}
CUresult cuGraphExecDestroy(void *exec) {
  (void)exec;
  --liveGraphs;
  return 0;
}
CUresult cuGraphDestroy(void *graph) {
  free(graph);
  --liveGraphs;
  return 0;
}
