//===- Config.h - Typed reader of a Hugging Face config.json ----*- C++ -*-===//
//
// Reads config.json fields with their types checked. The first problem is
// kept and every later read returns a harmless default, so importers read all
// fields straight through and check `takeError()` once: the user gets one
// error naming the file and the field.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRIDC_FRONTENDS_HF_CONFIG_H
#define HYBRIDC_FRONTENDS_HF_CONFIG_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hybrid::hf {

/// llvm::json::parse, refusing documents nested deeper than `maxDepth`
/// levels first: the parser recurses once per level, so a downloaded file
/// of a million '[' would otherwise overflow the stack.
llvm::Expected<llvm::json::Value> parseJson(llvm::StringRef text,
                                            unsigned maxDepth = 256);

class Config {
public:
  /// Parses `path` as a JSON object.
  static llvm::Expected<Config> load(llvm::StringRef path);
  /// Wraps an already parsed object, e.g. a nested `rope_parameters`.
  Config(std::string path, llvm::json::Object object);

  llvm::StringRef path() const { return path_; }
  /// True when `key` is present and not null.
  bool has(llvm::StringRef key) const;

  /// Required fields: a missing or null key is an error.
  int64_t integer(llvm::StringRef key);
  double number(llvm::StringRef key);
  std::string string(llvm::StringRef key);
  /// Optional fields: `fallback` when the key is missing or null.
  int64_t integer(llvm::StringRef key, int64_t fallback);
  double number(llvm::StringRef key, double fallback);
  bool boolean(llvm::StringRef key, bool fallback);
  std::string string(llvm::StringRef key, llvm::StringRef fallback);
  /// An integer, or `keywordValue` when the field is the string `keyword`
  /// or missing (e.g. Jamba's `"mamba_dt_rank": "auto"`).
  int64_t integerOrKeyword(llvm::StringRef key, llvm::StringRef keyword,
                           int64_t keywordValue);
  std::vector<int64_t> integers(llvm::StringRef key,
                                std::vector<int64_t> fallback = {});
  std::vector<std::string> strings(llvm::StringRef key);
  /// A nested object (e.g. `rope_parameters`), if present.
  std::optional<Config> object(llvm::StringRef key);

  /// Records a problem that no single field explains (e.g. sizes that
  /// together overflow), as "<file>: <message>".
  void failWhole(const llvm::Twine &message);
  /// Records a problem with `key` unless one is already recorded.
  void fail(llvm::StringRef key, const llvm::Twine &message);
  /// Records `message` about `key` when `ok` is false.
  void require(bool ok, llvm::StringRef key, const llvm::Twine &message) {
    if (!ok)
      fail(key, message);
  }
  bool failed() const { return error_->has_value(); }
  /// The first recorded problem, as "<file>: field '<key>': <message>".
  llvm::Error takeError();

private:
  const llvm::json::Value *lookup(llvm::StringRef key) const;
  void typeError(llvm::StringRef key, llvm::StringRef expected,
                 const llvm::json::Value &got);

  std::string path_;
  std::string prefix_; // "rope_parameters." for nested objects
  llvm::json::Object object_;
  // Shared with nested objects so that their problems surface here too.
  std::shared_ptr<std::optional<std::string>> error_;
};

} // namespace hybrid::hf

#endif // HYBRIDC_FRONTENDS_HF_CONFIG_H
