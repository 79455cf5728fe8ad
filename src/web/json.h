// Private to web/: a small JSON writer (commas and escaping handled, invalid
// UTF-8 replaced by U+FFFD so raw SIP text always yields valid JSON) and a
// reader for flat request objects ({"username":"a","password":"b"}).
#ifndef SIPMAN_WEB_JSON_H_
#define SIPMAN_WEB_JSON_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sipman::web {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Uint(uint64_t value);
  // Non-finite values are written as null.
  JsonWriter& Double(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  JsonWriter& OptionalDouble(const std::optional<double>& value) {
    return value ? Double(*value) : Null();
  }
  // Appends pre-rendered JSON as one value.
  JsonWriter& Raw(std::string_view json);

  // Convenience: Key(k) then the value.
  JsonWriter& Field(std::string_view k, std::string_view v) { return Key(k).String(v); }
  JsonWriter& Field(std::string_view k, const char* v) { return Key(k).String(v); }
  JsonWriter& Field(std::string_view k, int64_t v) { return Key(k).Int(v); }
  JsonWriter& Field(std::string_view k, int v) { return Key(k).Int(v); }
  JsonWriter& Field(std::string_view k, uint64_t v) { return Key(k).Uint(v); }
  JsonWriter& Field(std::string_view k, uint32_t v) { return Key(k).Uint(v); }
  JsonWriter& Field(std::string_view k, bool v) { return Key(k).Bool(v); }
  JsonWriter& Field(std::string_view k, double v) { return Key(k).Double(v); }

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void BeforeValue();

  std::string out_;
  std::vector<bool> first_;  // per open container: no element yet
  bool after_key_ = false;
};

// Appends `text` as a JSON string literal (quotes included).
void AppendJsonString(std::string_view text, std::string* out);

// Parses a JSON object whose values are strings, numbers, booleans or null
// (numbers, booleans and null are kept as their text). Nested values, and
// anything but one object, give nullopt.
std::optional<std::map<std::string, std::string>> ParseFlatJsonObject(std::string_view json);

}  // namespace sipman::web

#endif  // SIPMAN_WEB_JSON_H_
