//===- Driver.h - The hybridc compiler driver -------------------*- C++ -*-===//

#ifndef HYBRIDC_COMPILER_DRIVER_DRIVER_H
#define HYBRIDC_COMPILER_DRIVER_DRIVER_H

namespace hybridc {

/// Parses hybridc's command line and runs it; returns the process exit code.
int runHybridc(int argc, char **argv);

} // namespace hybridc

#endif // HYBRIDC_COMPILER_DRIVER_DRIVER_H
