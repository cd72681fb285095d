// Machine probes for the roofline benchmark (bench/roofline.py): the f32
// FMA peak and the read bandwidth of this machine, measured now, with the
// given number of threads. Not part of the compiler or the runtime.
//
//   probes peak THREADS       -> "peak_gflops <value>"
//   probes bandwidth THREADS  -> "read_gbps <value>"
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef __AVX512F__
typedef __m512 vec;
#define LANES 16
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define SET1(x) _mm512_set1_ps(x)
#define SUM(v) _mm512_reduce_add_ps(v)
#else
typedef __m256 vec;
#define LANES 8
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define SET1(x) _mm256_set1_ps(x)
static float SUM(__m256 v) {
  float t[8];
  _mm256_storeu_ps(t, v);
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
#endif

enum { kChains = 12, kBytes = 1 << 30 };
static const float *buffer;
static long perThread;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void *fmaChains(void *out) {
  vec a[kChains], x = SET1(1.0000001f), y = SET1(-1e-7f);
  for (int i = 0; i < kChains; ++i)
    a[i] = SET1((float)i);
  for (long it = 0; it < 50000000; ++it)
    for (int i = 0; i < kChains; ++i)
      a[i] = FMA(a[i], x, y);
  float r = 0;
  for (int i = 0; i < kChains; ++i)
    r += SUM(a[i]);
  *(float *)out = r;
  return NULL;
}

static void *readSlice(void *arg) {
  long part = (long)arg;
  const float *p = buffer + part * perThread;
  vec s0 = SET1(0), s1 = SET1(0), s2 = SET1(0), s3 = SET1(0);
  for (long i = 0; i < perThread; i += 4 * LANES) {
#ifdef __AVX512F__
    s0 = _mm512_add_ps(s0, _mm512_load_ps(p + i));
    s1 = _mm512_add_ps(s1, _mm512_load_ps(p + i + LANES));
    s2 = _mm512_add_ps(s2, _mm512_load_ps(p + i + 2 * LANES));
    s3 = _mm512_add_ps(s3, _mm512_load_ps(p + i + 3 * LANES));
#else
    s0 = _mm256_add_ps(s0, _mm256_load_ps(p + i));
    s1 = _mm256_add_ps(s1, _mm256_load_ps(p + i + LANES));
    s2 = _mm256_add_ps(s2, _mm256_load_ps(p + i + 2 * LANES));
    s3 = _mm256_add_ps(s3, _mm256_load_ps(p + i + 3 * LANES));
#endif
  }
  static volatile float sink;
  sink = SUM(s0) + SUM(s1) + SUM(s2) + SUM(s3);
  return NULL;
}

static double run(int threads, void *(*body)(void *), int perThreadArg) {
  pthread_t t[256];
  float out[256];
  double start = now();
  for (int i = 0; i < threads; ++i)
    pthread_create(&t[i], NULL, body, perThreadArg ? (void *)(long)i : &out[i]);
  for (int i = 0; i < threads; ++i)
    pthread_join(t[i], NULL);
  return now() - start;
}

int main(int argc, char **argv) {
  if (argc != 3 || atoi(argv[2]) < 1 || atoi(argv[2]) > 256) {
    fprintf(stderr, "usage: probes peak|bandwidth THREADS\n");
    return 2;
  }
  int threads = atoi(argv[2]);
  if (!strcmp(argv[1], "peak")) {
    double best = 0;
    for (int round = 0; round < 3; ++round) {
      double s = run(threads, fmaChains, 0);
      double flops = 2.0 * LANES * kChains * 50000000.0 * threads;
      if (flops / s > best)
        best = flops / s;
    }
    printf("peak_gflops %.1f\n", best / 1e9);
    return 0;
  }
  if (!strcmp(argv[1], "bandwidth")) {
    float *data = aligned_alloc(64, kBytes);
    memset(data, 1, kBytes); // touch every page before timing
    buffer = data;
    perThread = kBytes / sizeof(float) / threads / (4 * LANES) * (4 * LANES);
    double best = 0;
    for (int round = 0; round < 5; ++round) {
      double s = run(threads, readSlice, 1);
      double bytes = (double)perThread * threads * sizeof(float);
      if (bytes / s > best)
        best = bytes / s;
    }
    printf("read_gbps %.1f\n", best / 1e9);
    free(data);
    return 0;
  }
  fprintf(stderr, "usage: probes peak|bandwidth THREADS\n");
  return 2;
}
