//===- hybridc.cpp - The HybridC compiler -----------------------*- C++ -*-===//

#include "compiler/Driver/Driver.h"

int main(int argc, char **argv) { return hybridc::runHybridc(argc, argv); }
