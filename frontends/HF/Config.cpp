//===- Config.cpp - Typed reader of a Hugging Face config.json --*- C++ -*-===//

#include "frontends/HF/Config.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace llvm;
using namespace hybrid::hf;

namespace {
StringRef kindOf(const json::Value &value) {
  switch (value.kind()) {
  case json::Value::Null:
    return "null";
  case json::Value::Boolean:
    return "a boolean";
  case json::Value::Number:
    return "a number";
  case json::Value::String:
    return "a string";
  case json::Value::Array:
    return "a list";
  case json::Value::Object:
    return "an object";
  }
  return "a value";
}
} // namespace

Expected<json::Value> hybrid::hf::parseJson(StringRef text,
                                            unsigned maxDepth) {
  unsigned depth = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i; // the escaped character cannot end the string
      else if (c == '"')
        inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > maxDepth)
        return createStringError(inconvertibleErrorCode(),
                                 "nested more than %u levels deep", maxDepth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return json::parse(text);
}

Expected<Config> Config::load(StringRef path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer = MemoryBuffer::getFile(path);
  if (!buffer)
    return createStringError(buffer.getError(), "%s: cannot read: %s",
                             path.str().c_str(),
                             buffer.getError().message().c_str());
  Expected<json::Value> value = parseJson((*buffer)->getBuffer());
  if (!value)
    return createStringError(inconvertibleErrorCode(), "%s: not valid JSON: %s",
                             path.str().c_str(),
                             toString(value.takeError()).c_str());
  json::Object *object = value->getAsObject();
  if (!object)
    return createStringError(inconvertibleErrorCode(),
                             "%s: expected a JSON object at the top level, "
                             "got %s",
                             path.str().c_str(), kindOf(*value).str().c_str());
  return Config(path.str(), std::move(*object));
}

Config::Config(std::string path, json::Object object)
    : path_(std::move(path)), object_(std::move(object)),
      error_(std::make_shared<std::optional<std::string>>()) {}

const json::Value *Config::lookup(StringRef key) const {
  const json::Value *value = object_.get(key);
  if (!value || value->kind() == json::Value::Null)
    return nullptr;
  return value;
}

bool Config::has(StringRef key) const { return lookup(key) != nullptr; }

void Config::fail(StringRef key, const Twine &message) {
  if (error_->has_value())
    return;
  *error_ = (path_ + ": field '" + prefix_ + key + "': " + message).str();
}

void Config::failWhole(const Twine &message) {
  if (!error_->has_value())
    *error_ = (path_ + ": " + message).str();
}

void Config::typeError(StringRef key, StringRef expected,
                       const json::Value &got) {
  fail(key, "expected " + expected + ", got " + kindOf(got));
}

Error Config::takeError() {
  if (!error_->has_value())
    return Error::success();
  std::string message = std::move(**error_);
  error_->reset();
  return createStringError(inconvertibleErrorCode(), message);
}

int64_t Config::integer(StringRef key) {
  if (!has(key)) {
    fail(key, "is required but missing");
    return 0;
  }
  return integer(key, 0);
}

int64_t Config::integer(StringRef key, int64_t fallback) {
  const json::Value *value = lookup(key);
  if (!value)
    return fallback;
  if (std::optional<int64_t> i = value->getAsInteger())
    return *i;
  // JSON writers sometimes print integral values as 4.0.
  if (std::optional<double> d = value->getAsNumber())
    if (std::floor(*d) == *d && std::fabs(*d) < 9.0e15)
      return static_cast<int64_t>(*d);
  typeError(key, "an integer", *value);
  return fallback;
}

double Config::number(StringRef key) {
  if (!has(key)) {
    fail(key, "is required but missing");
    return 0.0;
  }
  return number(key, 0.0);
}

double Config::number(StringRef key, double fallback) {
  const json::Value *value = lookup(key);
  if (!value)
    return fallback;
  if (std::optional<double> d = value->getAsNumber())
    return *d;
  typeError(key, "a number", *value);
  return fallback;
}

bool Config::boolean(StringRef key, bool fallback) {
  const json::Value *value = lookup(key);
  if (!value)
    return fallback;
  if (std::optional<bool> b = value->getAsBoolean())
    return *b;
  typeError(key, "true or false", *value);
  return fallback;
}

std::string Config::string(StringRef key) {
  if (!has(key)) {
    fail(key, "is required but missing");
    return "";
  }
  return string(key, "");
}

std::string Config::string(StringRef key, StringRef fallback) {
  const json::Value *value = lookup(key);
  if (!value)
    return fallback.str();
  if (std::optional<StringRef> s = value->getAsString())
    return s->str();
  typeError(key, "a string", *value);
  return fallback.str();
}

int64_t Config::integerOrKeyword(StringRef key, StringRef keyword,
                                 int64_t keywordValue) {
  const json::Value *value = lookup(key);
  if (!value)
    return keywordValue;
  if (std::optional<StringRef> s = value->getAsString()) {
    if (*s == keyword)
      return keywordValue;
    fail(key, "expected an integer or \"" + keyword + "\", got \"" + *s + "\"");
    return keywordValue;
  }
  return integer(key, keywordValue);
}

std::vector<int64_t> Config::integers(StringRef key,
                                      std::vector<int64_t> fallback) {
  const json::Value *value = lookup(key);
  if (!value)
    return fallback;
  const json::Array *array = value->getAsArray();
  if (!array) {
    typeError(key, "a list of integers", *value);
    return fallback;
  }
  std::vector<int64_t> result;
  for (const json::Value &element : *array) {
    std::optional<int64_t> i = element.getAsInteger();
    if (!i) {
      fail(key, "expected a list of integers, found " + kindOf(element) +
                    " in it");
      return fallback;
    }
    result.push_back(*i);
  }
  return result;
}

std::vector<std::string> Config::strings(StringRef key) {
  const json::Value *value = lookup(key);
  if (!value)
    return {};
  const json::Array *array = value->getAsArray();
  if (!array) {
    typeError(key, "a list of strings", *value);
    return {};
  }
  std::vector<std::string> result;
  for (const json::Value &element : *array) {
    std::optional<StringRef> s = element.getAsString();
    if (!s) {
      fail(key, "expected a list of strings, found " + kindOf(element) +
                    " in it");
      return {};
    }
    result.push_back(s->str());
  }
  return result;
}

std::optional<Config> Config::object(StringRef key) {
  const json::Value *value = lookup(key);
  if (!value)
    return std::nullopt;
  const json::Object *nested = value->getAsObject();
  if (!nested) {
    typeError(key, "an object", *value);
    return std::nullopt;
  }
  Config result(path_, *nested);
  result.prefix_ = (prefix_ + key + ".").str();
  result.error_ = error_;
  return result;
}
