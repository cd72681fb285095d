//===- Checks.h - The runtime tests' counted checks -------------*- C++ -*-===//
//
// check(ok, what) counts a check and prints what failed; a test ends with
// `return report();`, which prints "N checks, F failed" (what the lit
// tests match) and gives the exit status.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRIDC_TEST_RUNTIME_CHECKS_H
#define HYBRIDC_TEST_RUNTIME_CHECKS_H

#include <cstdio>
#include <string>

namespace checks {
inline int failures = 0, count = 0;

inline void check(bool ok, const std::string &what) {
  ++count;
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
  }
}

inline int report() {
  std::printf("%d checks, %d failed\n", count, failures);
  return failures ? 1 : 0;
}
} // namespace checks

#endif // HYBRIDC_TEST_RUNTIME_CHECKS_H
