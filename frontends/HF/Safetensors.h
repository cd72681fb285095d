//===- Safetensors.h - Checked, memory-mapped safetensors files -*- C++ -*-===//
//
// Opens safetensors files without copying them (mmap) and validates the
// header before any offset in it is trusted: header length, JSON, dtypes,
// shapes, offsets inside the data and no two tensors overlapping.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRIDC_FRONTENDS_HF_SAFETENSORS_H
#define HYBRIDC_FRONTENDS_HF_SAFETENSORS_H

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <string>
#include <vector>

namespace hybrid::hf {

enum class DType { Bool, U8, I8, U16, I16, U32, I32, U64, I64, F16, BF16, F32,
                   F64, F8E4M3, F8E5M2 };

/// The safetensors spelling ("BF16", "F8_E4M3", ...).
llvm::StringRef dtypeName(DType dtype);
int64_t dtypeBytes(DType dtype);

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t offset = 0; // from the start of the file
  uint64_t size = 0;   // bytes
  std::string file;    // path of the file holding it
};

class SafetensorsFile {
public:
  static llvm::Expected<std::unique_ptr<SafetensorsFile>>
  open(llvm::StringRef path);

  llvm::StringRef path() const { return path_; }
  const std::vector<TensorInfo> &tensors() const { return tensors_; }
  /// The raw header (the JSON text), e.g. to checksum it.
  llvm::StringRef header() const;
  /// The whole file (mapped, not copied).
  llvm::StringRef contents() const { return buffer_->getBuffer(); }
  /// The bytes of one of this file's tensors (mapped, not copied).
  llvm::StringRef bytes(const TensorInfo &tensor) const {
    return buffer_->getBuffer().substr(tensor.offset, tensor.size);
  }

private:
  std::string path_;
  std::unique_ptr<llvm::MemoryBuffer> buffer_;
  uint64_t headerSize_ = 0;
  std::vector<TensorInfo> tensors_;
};

/// The safetensors of one checkpoint folder: `model.safetensors`, or the
/// shards named by `model.safetensors.index.json`.
class Checkpoint {
public:
  /// Opens the checkpoint in `dir`; returns an empty checkpoint (no files)
  /// when the folder holds no safetensors at all.
  static llvm::Expected<Checkpoint> open(llvm::StringRef dir);

  bool empty() const { return files_.empty(); }
  const TensorInfo *find(llvm::StringRef name) const;
  const std::vector<std::unique_ptr<SafetensorsFile>> &files() const {
    return files_;
  }
  /// What to call this checkpoint in messages (a file or the index).
  llvm::StringRef description() const { return description_; }
  /// Every tensor name, sorted.
  std::vector<std::string> names() const;
  /// The bytes of `tensor`, which must come from this checkpoint.
  llvm::StringRef bytes(const TensorInfo &tensor) const;

private:
  llvm::Error add(std::unique_ptr<SafetensorsFile> file);

  std::string description_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  llvm::StringMap<const TensorInfo *> byName_;
};

} // namespace hybrid::hf

#endif // HYBRIDC_FRONTENDS_HF_SAFETENSORS_H
