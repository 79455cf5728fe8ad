#include "web/json.h"

#include <cmath>
#include <cstdio>

#include "base/json_escape.h"
#include "base/utf8.h"

namespace sipman::web {
namespace {

void SkipSpace(std::string_view s, size_t* i) {
  while (*i < s.size() && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\n' || s[*i] == '\r')) ++*i;
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool ReadString(std::string_view s, size_t* i, std::string* out) {
  if (*i >= s.size() || s[*i] != '"') return false;
  ++*i;
  out->clear();
  while (*i < s.size()) {
    char c = s[*i];
    if (c == '"') {
      ++*i;
      return true;
    }
    if (static_cast<unsigned char>(c) < 0x20) return false;
    if (c != '\\') {
      out->push_back(c);
      ++*i;
      continue;
    }
    if (*i + 1 >= s.size()) return false;
    char e = s[*i + 1];
    *i += 2;
    switch (e) {
      case '"': out->push_back('"'); break;
      case '\\': out->push_back('\\'); break;
      case '/': out->push_back('/'); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 't': out->push_back('\t'); break;
      case 'u': {
        if (*i + 4 > s.size()) return false;
        uint32_t cp = 0;
        for (int k = 0; k < 4; ++k) {
          int h = Hex(s[*i + k]);
          if (h < 0) return false;
          cp = cp * 16 + static_cast<uint32_t>(h);
        }
        *i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && *i + 6 <= s.size() && s[*i] == '\\' &&
            s[*i + 1] == 'u') {
          uint32_t lo = 0;
          bool ok = true;
          for (int k = 0; k < 4; ++k) {
            int h = Hex(s[*i + 2 + k]);
            if (h < 0) ok = false;
            lo = lo * 16 + static_cast<uint32_t>(h < 0 ? 0 : h);
          }
          if (ok && lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            *i += 6;
          }
        }
        if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        AppendUtf8(cp, out);
        break;
      }
      default:
        return false;
    }
  }
  return false;
}

}  // namespace

void AppendJsonString(std::string_view text, std::string* out) {
  // Browsers read it: never markup, invalid UTF-8 as the replacement character.
  constexpr JsonEscapeStyle kStyle{JsonEscapeStyle::InvalidUtf8::kReplace, /*html_safe=*/true};
  sipman::AppendJsonString(text, kStyle, [out](std::string_view part) { out->append(part); });
}

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_.push_back(',');
    first_.back() = false;
  }
}

JsonWriter& JsonWriter::BeginObject() {
  BeforeValue();
  out_.push_back('{');
  first_.push_back(true);
  return *this;
}
JsonWriter& JsonWriter::EndObject() {
  out_.push_back('}');
  if (!first_.empty()) first_.pop_back();
  return *this;
}
JsonWriter& JsonWriter::BeginArray() {
  BeforeValue();
  out_.push_back('[');
  first_.push_back(true);
  return *this;
}
JsonWriter& JsonWriter::EndArray() {
  out_.push_back(']');
  if (!first_.empty()) first_.pop_back();
  return *this;
}
JsonWriter& JsonWriter::Key(std::string_view key) {
  BeforeValue();
  AppendJsonString(key, &out_);
  out_.push_back(':');
  after_key_ = true;
  return *this;
}
JsonWriter& JsonWriter::String(std::string_view value) {
  BeforeValue();
  AppendJsonString(value, &out_);
  return *this;
}
JsonWriter& JsonWriter::Int(int64_t value) {
  BeforeValue();
  out_ += std::to_string(value);
  return *this;
}
JsonWriter& JsonWriter::Uint(uint64_t value) {
  BeforeValue();
  out_ += std::to_string(value);
  return *this;
}
JsonWriter& JsonWriter::Double(double value) {
  BeforeValue();
  if (!std::isfinite(value)) {
    out_ += "null";
    return *this;
  }
  char buffer[32];
  int n = std::snprintf(buffer, sizeof(buffer), "%.10g", value);
  out_.append(buffer, static_cast<size_t>(n));
  return *this;
}
JsonWriter& JsonWriter::Bool(bool value) {
  BeforeValue();
  out_ += value ? "true" : "false";
  return *this;
}
JsonWriter& JsonWriter::Null() {
  BeforeValue();
  out_ += "null";
  return *this;
}
JsonWriter& JsonWriter::Raw(std::string_view json) {
  BeforeValue();
  out_.append(json);
  return *this;
}

std::optional<std::map<std::string, std::string>> ParseFlatJsonObject(std::string_view s) {
  std::map<std::string, std::string> result;
  size_t i = 0;
  SkipSpace(s, &i);
  if (i >= s.size() || s[i] != '{') return std::nullopt;
  ++i;
  SkipSpace(s, &i);
  if (i < s.size() && s[i] == '}') {
    ++i;
  } else {
    for (;;) {
      std::string key, value;
      SkipSpace(s, &i);
      if (!ReadString(s, &i, &key)) return std::nullopt;
      SkipSpace(s, &i);
      if (i >= s.size() || s[i] != ':') return std::nullopt;
      ++i;
      SkipSpace(s, &i);
      if (i >= s.size()) return std::nullopt;
      if (s[i] == '"') {
        if (!ReadString(s, &i, &value)) return std::nullopt;
      } else {
        size_t start = i;
        while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ' ' && s[i] != '\n' &&
               s[i] != '\r' && s[i] != '\t') {
          char c = s[i];
          if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' ||
                c == 'E' || (c >= 'a' && c <= 'z'))) {
            return std::nullopt;
          }
          ++i;
        }
        value = std::string(s.substr(start, i - start));
        if (value.empty()) return std::nullopt;
      }
      if (result.count(key)) return std::nullopt;
      result.emplace(std::move(key), std::move(value));
      SkipSpace(s, &i);
      if (i >= s.size()) return std::nullopt;
      if (s[i] == ',') {
        ++i;
        continue;
      }
      if (s[i] == '}') {
        ++i;
        break;
      }
      return std::nullopt;
    }
  }
  SkipSpace(s, &i);
  if (i != s.size()) return std::nullopt;
  return result;
}

}  // namespace sipman::web
