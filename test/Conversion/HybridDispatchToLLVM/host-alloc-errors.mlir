// RUN: hybrid-opt %s --verify-diagnostics --convert-hybrid-dispatch-to-llvm

// A module that defines the allocation function itself is not the memref
// lowering's: an error, not a second body.
// expected-error @+1 {{'llvm.func' op is not the generic allocation function the memref lowering declares}}
llvm.func @_mlir_memref_to_llvm_alloc(%bytes: i64) -> !llvm.ptr {
  %null = llvm.mlir.zero : !llvm.ptr
  llvm.return %null : !llvm.ptr
}
