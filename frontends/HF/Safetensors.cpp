//===- Safetensors.cpp - Checked, memory-mapped safetensors -----*- C++ -*-===//

#include "frontends/HF/Safetensors.h"
#include "frontends/HF/Config.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

#include <algorithm>

using namespace llvm;
using namespace hybrid::hf;

namespace {
struct DTypeEntry {
  StringRef name;
  DType dtype;
  int64_t bytes;
};
constexpr DTypeEntry kDTypes[] = {
    {"BOOL", DType::Bool, 1},   {"U8", DType::U8, 1},
    {"I8", DType::I8, 1},       {"U16", DType::U16, 2},
    {"I16", DType::I16, 2},     {"U32", DType::U32, 4},
    {"I32", DType::I32, 4},     {"U64", DType::U64, 8},
    {"I64", DType::I64, 8},     {"F16", DType::F16, 2},
    {"BF16", DType::BF16, 2},   {"F32", DType::F32, 4},
    {"F64", DType::F64, 8},     {"F8_E4M3", DType::F8E4M3, 1},
    {"F8_E5M2", DType::F8E5M2, 1}};

Error fileError(StringRef path, const Twine &message) {
  return createStringError(inconvertibleErrorCode(),
                           (path + ": " + message).str());
}
} // namespace

StringRef hybrid::hf::dtypeName(DType dtype) {
  for (const DTypeEntry &e : kDTypes)
    if (e.dtype == dtype)
      return e.name;
  return "?";
}

int64_t hybrid::hf::dtypeBytes(DType dtype) {
  for (const DTypeEntry &e : kDTypes)
    if (e.dtype == dtype)
      return e.bytes;
  return 0;
}

StringRef SafetensorsFile::header() const {
  return buffer_->getBuffer().substr(8, headerSize_);
}

Expected<std::unique_ptr<SafetensorsFile>>
SafetensorsFile::open(StringRef path) {
  // Memory-mapped, read-only, no terminator: the data is never copied.
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer = MemoryBuffer::getFile(
      path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fileError(path, "cannot open: " + buffer.getError().message());
  auto file = std::unique_ptr<SafetensorsFile>(new SafetensorsFile());
  file->path_ = path.str();
  file->buffer_ = std::move(*buffer);
  StringRef bytes = file->buffer_->getBuffer();
  uint64_t fileSize = bytes.size();
  if (fileSize < 8)
    return fileError(path, "file is " + Twine(fileSize) +
                               " bytes, too short for the 8-byte header "
                               "length");
  uint64_t headerSize =
      support::endian::read64le(reinterpret_cast<const void *>(bytes.data()));
  if (headerSize > fileSize - 8)
    return fileError(path, "header length " + Twine(headerSize) +
                               " runs past the end of the file (" +
                               Twine(fileSize) + " bytes); truncated?");
  file->headerSize_ = headerSize;
  uint64_t dataStart = 8 + headerSize;
  uint64_t dataSize = fileSize - dataStart;

  Expected<json::Value> header = parseJson(bytes.substr(8, headerSize));
  if (!header)
    return fileError(path, "header is not valid JSON: " +
                               toString(header.takeError()));
  json::Object *entries = header->getAsObject();
  if (!entries)
    return fileError(path, "header must be a JSON object");

  for (auto &[key, value] : *entries) {
    StringRef name = key;
    if (name == "__metadata__")
      continue;
    auto tensorError = [&](const Twine &message) {
      return fileError(path, "tensor '" + name + "': " + message);
    };
    const json::Object *entry = value.getAsObject();
    if (!entry)
      return tensorError("header entry must be an object");
    TensorInfo info;
    info.name = name.str();
    info.file = path.str();
    std::optional<StringRef> dtype = entry->getString("dtype");
    if (!dtype)
      return tensorError("missing 'dtype'");
    const DTypeEntry *known = llvm::find_if(
        kDTypes, [&](const DTypeEntry &e) { return e.name == *dtype; });
    if (known == std::end(kDTypes))
      return tensorError("unknown dtype '" + *dtype + "'");
    info.dtype = known->dtype;
    const json::Array *shape = entry->getArray("shape");
    if (!shape)
      return tensorError("missing 'shape'");
    uint64_t elements = 1;
    for (const json::Value &dim : *shape) {
      std::optional<int64_t> d = dim.getAsInteger();
      if (!d || *d < 0)
        return tensorError("shape must be a list of non-negative integers");
      info.shape.push_back(*d);
      if (*d != 0 && elements > (uint64_t(1) << 62) / uint64_t(*d))
        return tensorError("shape is too large");
      elements *= *d;
    }
    // The byte count, not just the element count, must fit: 2^62 F32
    // elements would wrap to 0 bytes and pass every span check below.
    if (elements > (uint64_t(1) << 62) / uint64_t(known->bytes))
      return tensorError("shape is too large");
    const json::Array *offsets = entry->getArray("data_offsets");
    std::optional<int64_t> begin, end;
    if (offsets && offsets->size() == 2) {
      begin = (*offsets)[0].getAsInteger();
      end = (*offsets)[1].getAsInteger();
    }
    if (!begin || !end || *begin < 0 || *end < *begin)
      return tensorError("data_offsets must be [begin, end] with "
                         "0 <= begin <= end");
    if (uint64_t(*end) > dataSize)
      return tensorError("data_offsets [" + Twine(*begin) + ", " + Twine(*end) +
                         "] run past the end of the data (" + Twine(dataSize) +
                         " bytes); truncated?");
    uint64_t expected = elements * known->bytes;
    if (uint64_t(*end - *begin) != expected)
      return tensorError("data_offsets span " + Twine(*end - *begin) +
                         " bytes but " + *dtype + " " +
                         Twine(info.shape.size()) + "-d shape needs " +
                         Twine(expected));
    info.offset = dataStart + *begin;
    info.size = expected;
    file->tensors_.push_back(std::move(info));
  }

  // No two tensors may share bytes.
  std::vector<const TensorInfo *> byOffset;
  for (const TensorInfo &t : file->tensors_)
    if (t.size)
      byOffset.push_back(&t);
  llvm::sort(byOffset, [](const TensorInfo *a, const TensorInfo *b) {
    return a->offset < b->offset;
  });
  for (size_t i = 1; i < byOffset.size(); ++i)
    if (byOffset[i]->offset < byOffset[i - 1]->offset + byOffset[i - 1]->size)
      return fileError(path, "tensors '" + byOffset[i - 1]->name + "' and '" +
                                 byOffset[i]->name + "' overlap");
  llvm::sort(file->tensors_, [](const TensorInfo &a, const TensorInfo &b) {
    return a.name < b.name;
  });
  return file;
}

Error Checkpoint::add(std::unique_ptr<SafetensorsFile> file) {
  for (const TensorInfo &t : file->tensors()) {
    auto [it, inserted] = byName_.try_emplace(t.name, &t);
    if (!inserted)
      return createStringError(inconvertibleErrorCode(),
                               "%s: tensor '%s' is stored twice, in %s and %s",
                               description_.c_str(), t.name.c_str(),
                               it->second->file.c_str(), t.file.c_str());
  }
  files_.push_back(std::move(file));
  return Error::success();
}

namespace {
/// True when `path` names anything, a dangling symbolic link included: a
/// Hugging Face cache snapshot whose blob is missing is a broken checkpoint,
/// not a checkpoint without weights.
bool present(const Twine &path) {
  sys::fs::file_status status;
  return !sys::fs::status(path, status, /*Follow=*/false) &&
         sys::fs::exists(status);
}
} // namespace

Expected<Checkpoint> Checkpoint::open(StringRef dir) {
  Checkpoint checkpoint;
  SmallString<256> single(dir), index(dir);
  sys::path::append(single, "model.safetensors");
  sys::path::append(index, "model.safetensors.index.json");

  if (present(index)) {
    checkpoint.description_ = index.str().str();
    ErrorOr<std::unique_ptr<MemoryBuffer>> buffer = MemoryBuffer::getFile(index);
    if (!buffer)
      return fileError(index, "cannot read: " + buffer.getError().message());
    Expected<json::Value> value = parseJson((*buffer)->getBuffer());
    if (!value)
      return fileError(index, "not valid JSON: " + toString(value.takeError()));
    const json::Object *root = value->getAsObject();
    const json::Object *map = root ? root->getObject("weight_map") : nullptr;
    if (!map)
      return fileError(index, "field 'weight_map': expected an object mapping "
                              "tensor names to shard files");
    if (map->empty())
      return fileError(index, "field 'weight_map': is empty; the index places "
                              "no tensor in any shard");
    // Shard -> the tensors the index places in it.
    std::map<std::string, std::vector<std::string>> shards;
    for (auto &[name, shard] : *map) {
      std::optional<StringRef> file = shard.getAsString();
      if (!file)
        return fileError(index, "field 'weight_map." + StringRef(name) +
                                    "': expected a file name");
      if (file->contains('/') || file->contains('\\') || *file == ".." ||
          *file == "." || file->empty())
        return fileError(index, "field 'weight_map." + StringRef(name) +
                                    "': shard '" + *file +
                                    "' must be a file in the checkpoint folder");
      shards[file->str()].push_back(StringRef(name).str());
    }
    for (auto &[shard, names] : shards) {
      SmallString<256> path(dir);
      sys::path::append(path, shard);
      if (!sys::fs::exists(path))
        return fileError(index, "shard '" + shard + "' (holding '" +
                                    names.front() + "') is missing");
      Expected<std::unique_ptr<SafetensorsFile>> file =
          SafetensorsFile::open(path);
      if (!file)
        return file.takeError();
      for (const std::string &name : names)
        if (!llvm::any_of((*file)->tensors(), [&](const TensorInfo &t) {
              return t.name == name;
            }))
          return fileError(index, "lists tensor '" + name + "' in shard '" +
                                      shard + "', which does not contain it");
      if (Error e = checkpoint.add(std::move(*file)))
        return std::move(e);
    }
    return checkpoint;
  }
  if (present(single)) {
    checkpoint.description_ = single.str().str();
    Expected<std::unique_ptr<SafetensorsFile>> file =
        SafetensorsFile::open(single);
    if (!file)
      return file.takeError();
    if (Error e = checkpoint.add(std::move(*file)))
      return std::move(e);
  }
  return checkpoint;
}

const TensorInfo *Checkpoint::find(StringRef name) const {
  auto it = byName_.find(name);
  return it == byName_.end() ? nullptr : it->second;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> result;
  for (const auto &entry : byName_)
    result.push_back(entry.getKey().str());
  llvm::sort(result);
  return result;
}

StringRef Checkpoint::bytes(const TensorInfo &tensor) const {
  for (const std::unique_ptr<SafetensorsFile> &file : files_)
    if (file->path() == tensor.file)
      return file->bytes(tensor);
  return {};
}
