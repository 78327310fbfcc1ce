#include "airlock/k8s/yaml.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <regex>
#include <sstream>

namespace airlock::k8s {
namespace {

// YAML 1.2 core schema for plain scalars.
Json plain_scalar(const std::string& text) {
  static const std::regex kInteger("[-+]?[0-9]+");
  static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") return nullptr;
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  if (std::regex_match(text, kInteger)) {
    try {
      return std::stoll(text);
    } catch (const std::exception&) {
      return text;
    }
  }
  if (std::regex_match(text, kFloat)) {
    try {
      return std::stod(text);
    } catch (const std::exception&) {
      return text;
    }
  }
  return text;
}

Json to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return nullptr;
    case YAML::NodeType::Scalar:
      if (node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str") return node.Scalar();
      return plain_scalar(node.Scalar());
    case YAML::NodeType::Sequence: {
      Json array = Json::array();
      for (const YAML::Node& item : node) array.push_back(to_json(item));
      return array;
    }
    case YAML::NodeType::Map: {
      Json object = Json::object();
      for (const auto& entry : node) object[entry.first.as<std::string>()] = to_json(entry.second);
      return object;
    }
    case YAML::NodeType::Undefined: return nullptr;
  }
  return nullptr;
}

// A literal block (`|`) reads back exactly only when the text ends with one newline and no line has
// trailing or leading-tab whitespace; anything else is double-quoted with escapes.
bool literal_block_safe(const std::string& text) {
  if (text.size() < 2 || text.back() != '\n' || text[text.size() - 2] == '\n') return false;
  if (text.front() == ' ' || text.front() == '\t') return false;
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i + 1] == '\n' && (text[i] == ' ' || text[i] == '\t')) return false;
    if (text[i] == '\t' || text[i] == '\r') return false;
  }
  return true;
}

void emit(YAML::Emitter& out, const Json& value) {
  switch (value.type()) {
    case Json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key << key << YAML::Value;
        emit(out, item);
      }
      out << YAML::EndMap;
      return;
    case Json::value_t::array:
      out << YAML::BeginSeq;
      for (const Json& item : value) emit(out, item);
      out << YAML::EndSeq;
      return;
    case Json::value_t::string: {
      const std::string& text = value.get_ref<const std::string&>();
      if (literal_block_safe(text)) {
        out << YAML::Literal << text;
      } else if (!plain_scalar(text).is_string() || text.empty()) {
        out << YAML::DoubleQuoted << text;
      } else {
        out << text;
      }
      return;
    }
    case Json::value_t::boolean: out << (value.get<bool>() ? "true" : "false"); return;
    case Json::value_t::null: out << YAML::Null; return;
    case Json::value_t::number_float: {
      std::ostringstream text;
      text << value.dump();
      out << text.str();
      return;
    }
    default: out << value.dump(); return;
  }
}

}  // namespace

runtime::Result<std::vector<Json>> yaml_documents_to_json(std::string_view yaml, std::string_view source_name) {
  try {
    std::vector<YAML::Node> documents = YAML::LoadAll(std::string(yaml));
    std::vector<Json> result;
    for (const YAML::Node& document : documents) {
      if (!document.IsDefined() || document.IsNull()) continue;
      result.push_back(to_json(document));
    }
    return result;
  } catch (const YAML::Exception& error) {
    return runtime::Error{std::string(source_name) + ":" + std::to_string(error.mark.line + 1) + ":" +
                          std::to_string(error.mark.column + 1) + ": error: " + error.msg};
  }
}

std::string json_to_yaml(const Json& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetSeqFormat(YAML::Block);
  out.SetMapFormat(YAML::Block);
  emit(out, value);
  std::string text = out.c_str();
  if (text.empty() || text.back() != '\n') text += '\n';
  return text;
}

}  // namespace airlock::k8s
