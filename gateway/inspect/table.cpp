#include "airlock/gateway/inspect/table.h"

#include <algorithm>
#include <array>
#include <utility>

#include "airlock/gateway/inspect/identifiers.h"

namespace airlock::gateway::inspect {
namespace {

bool is_ascii_alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char to_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }

// "Date of Birth" -> "dateofbirth".
std::string normalise(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (is_ascii_alnum(c)) out.push_back(to_lower(c));
  }
  return out;
}

// "nPatients" -> {"n", "patients"}; "total_count" -> {"total", "count"}; "NHSNumber" -> {"nhsnumber"}.
std::vector<std::string> name_tokens(std::string_view name) {
  std::vector<std::string> tokens;
  std::string current;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (!is_ascii_alnum(c)) {
      if (!current.empty()) tokens.push_back(std::move(current));
      current.clear();
      continue;
    }
    if (is_upper(c) && i > 0 && !current.empty() && !is_upper(name[i - 1])) {
      tokens.push_back(std::move(current));
      current.clear();
    }
    current.push_back(to_lower(c));
  }
  if (!current.empty()) tokens.push_back(std::move(current));
  return tokens;
}

bool has_token(const std::vector<std::string>& tokens, std::initializer_list<std::string_view> wanted) {
  return std::any_of(tokens.begin(), tokens.end(), [&](const std::string& token) {
    return std::find(wanted.begin(), wanted.end(), token) != wanted.end();
  });
}

// A column named like a count: its integer values are counts even when some cells are suppressed ("*", "<5").
bool is_count_name(const std::vector<std::string>& tokens) {
  return has_token(tokens, {"count", "counts", "n", "num", "number", "total", "totals", "freq", "frequency"});
}

// Integer columns that are not counts.
bool is_not_count_name(const std::vector<std::string>& tokens) {
  return has_token(tokens, {"id", "code", "year", "yr", "age", "month", "day", "week", "quarter", "date", "time", "ref",
                            "key", "index", "rank", "period", "version"});
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool is_identifier_column_name(std::string_view name) {
  const std::string n = normalise(name);
  static constexpr std::array<std::string_view, 21> kExact = {
      "nhs",        "nhsid",         "dob",       "name",    "mrn",       "chi",       "nino",
      "tel",        "mobile",        "zip",       "zipcode", "personid",  "givenname", "familyname",
      "middlename", "patientnumber", "patientno", "nhsnum",  "subjectid", "forenames", "initials"};
  static constexpr std::array<std::string_view, 17> kContained = {
      "nhsnumber", "nhsno",     "postcode",    "dateofbirth", "birthdate",     "email",
      "phone",     "address",   "surname",     "forename",    "firstname",     "lastname",
      "fullname",  "patientid", "patientname", "chinumber",   "hospitalnumber"};
  if (std::find(kExact.begin(), kExact.end(), n) != kExact.end()) return true;
  if (n.size() > 3 && n.ends_with("dob")) return true;
  return std::any_of(kContained.begin(), kContained.end(),
                     [&](std::string_view part) { return n.find(part) != std::string::npos; });
}

bool is_birth_date_column_name(std::string_view name) {
  const std::string n = normalise(name);
  return n.ends_with("dob") || n.find("birth") != std::string::npos;
}

TableInspector::TableInspector(char delimiter, TableLimits limits) : delimiter_(delimiter), limits_(limits) {
  field_.reserve(256);
}

void TableInspector::fail(std::string problem) {
  if (failed_) return;
  failed_ = true;
  stats_.problem = std::move(problem);
}

void TableInspector::update(std::span<const char> data) {
  const char* p = data.data();
  const char* const end = p + data.size();
  const char delimiter = delimiter_;
  // The bytes that end an unquoted run: the delimiter, a quote, CR and LF.
  std::array<bool, 256> specials{};
  for (char c : {delimiter, '"', '\n', '\r'}) specials[static_cast<unsigned char>(c)] = true;
  auto special = [&specials](char c) { return specials[static_cast<unsigned char>(c)]; };
  while (p < end && !failed_ && !finished_) {
    const char* const step_start = p;
    char c = *p;
    if (skip_line_feed_) {
      skip_line_feed_ = false;
      if (c == '\n') {
        ++p;
        continue;
      }
    }
    switch (state_) {
      case State::kFieldStart:
      case State::kUnquoted: {
        if (state_ == State::kFieldStart && c == '"') {
          state_ = State::kQuoted;
          ++p;
          break;
        }
        const char* run = p;
        while (p < end && !special(*p)) ++p;
        if (p == end) {
          field_.append(run, p);
          if (p > run) state_ = State::kUnquoted;
          break;
        }
        // A field that lies whole in this chunk is judged where it is, without copying it.
        const bool in_place = field_.empty();
        if (!in_place) field_.append(run, p);
        const std::string_view value = in_place ? std::string_view(run, static_cast<std::size_t>(p - run)) : field_;
        c = *p++;
        if (c == delimiter) {
          end_field(value);
          state_ = State::kFieldStart;
        } else if (c == '\n' || c == '\r') {
          end_field(value);
          end_row();
          state_ = State::kFieldStart;
          skip_line_feed_ = c == '\r';
        } else {  // a quote inside an unquoted field is kept as text
          if (in_place) field_.append(run, p - 1);
          field_.push_back('"');
          state_ = State::kUnquoted;
        }
        break;
      }
      case State::kQuoted: {
        const char* run = p;
        while (p < end && *p != '"') ++p;
        field_.append(run, p);
        if (p < end) {
          ++p;
          state_ = State::kQuoteInQuoted;
        }
        break;
      }
      case State::kQuoteInQuoted:
        ++p;
        if (c == '"') {
          field_.push_back('"');
          state_ = State::kQuoted;
        } else if (c == delimiter) {
          end_field();
          state_ = State::kFieldStart;
        } else if (c == '\n' || c == '\r') {
          end_field();
          end_row();
          state_ = State::kFieldStart;
          skip_line_feed_ = c == '\r';
        } else {
          fail("row " + std::to_string(stats_.rows + 1) + ": text after a closing quote");
        }
        break;
    }
    row_bytes_ += static_cast<std::size_t>(p - step_start);
    if (row_bytes_ > limits_.max_row_bytes) {
      fail("a row is longer than " + std::to_string(limits_.max_row_bytes) + " bytes");
    }
  }
}

void TableInspector::end_field() { end_field(field_); }

void TableInspector::end_field(std::string_view raw) {
  if (in_header_) {
    if (column_ >= limits_.max_columns) {
      fail("more than " + std::to_string(limits_.max_columns) + " columns");
      return;
    }
    stats_.column_names.emplace_back(trim(raw));
    row_has_content_ = row_has_content_ || !raw.empty();
  } else if (column_ < columns_.size()) {
    const std::string_view value = trim(raw);
    if (!value.empty()) {
      row_has_content_ = true;
      Column& column = columns_[column_];
      ++column.non_empty;
      if (value.size() <= 18 && std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        ++column.integers;
        std::int64_t number = 0;
        for (char c : value) number = number * 10 + (c - '0');
        if (number == 0) {
          ++column.zeros;
        } else if (column.min_non_zero == 0 || number < column.min_non_zero) {
          column.min_non_zero = number;
        }
      }
      if ((value.size() == 10 || value.size() == 12) && is_nhs_number_value(value)) ++column.nhs_numbers;
      if (value.size() >= 5 && value.size() <= 8 && is_uk_postcode(value)) ++column.postcodes;
      if (value.size() >= 6 && std::find(value.begin(), value.end(), '@') != value.end() && is_email_address(value)) {
        ++column.emails;
      }
      if (value.size() >= 8 && value[0] >= '0' && value[0] <= '9' && is_date_value(value)) ++column.dates;
    }
  }
  ++column_;
  field_.clear();
}

void TableInspector::end_row() {
  if (failed_) return;
  if (!row_has_content_ && column_ <= 1) {  // a blank line
    if (in_header_) stats_.column_names.clear();
    column_ = 0;
    row_bytes_ = 0;
    return;
  }
  if (in_header_) {
    in_header_ = false;
    columns_.resize(column_);
    stats_.columns = static_cast<std::int64_t>(column_);
  } else if (column_ != columns_.size()) {
    fail("row " + std::to_string(stats_.rows + 1) + " has " + std::to_string(column_) + " fields, the header has " +
         std::to_string(columns_.size()));
    return;
  } else {
    ++stats_.rows;
  }
  column_ = 0;
  row_has_content_ = false;
  row_bytes_ = 0;
}

void TableInspector::finish() {
  if (finished_) return;
  if (!failed_) {
    if (state_ == State::kQuoted) {
      fail("a quoted field is not closed at the end of the file");
    } else if (state_ != State::kFieldStart || column_ > 0) {
      end_field();
      end_row();
    }
  }
  finished_ = true;
  if (!failed_ && in_header_) fail("no header row");
  if (failed_) {
    std::string problem = std::move(stats_.problem);
    stats_ = TableStats{};
    stats_.problem = std::move(problem);
    return;
  }
  stats_.is_table = true;
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    const Column& column = columns_[i];
    const std::string& name = stats_.column_names[i];
    const bool mostly =
        column.non_empty > 0 && (column.nhs_numbers * 2 > column.non_empty || column.postcodes * 2 > column.non_empty ||
                                 column.emails * 2 > column.non_empty);
    const bool identifier = is_identifier_column_name(name) || mostly;
    if (identifier) stats_.identifier_columns.push_back(name);
    if (is_birth_date_column_name(name)) stats_.dates_of_birth += column.dates;
    const auto tokens = name_tokens(name);
    const bool count = !identifier && column.integers > 0 &&
                       (is_count_name(tokens) || (column.integers == column.non_empty && !is_not_count_name(tokens)));
    if (!count) continue;
    stats_.count_columns.push_back(name);
    stats_.zero_cells += column.zeros;
    if (column.min_non_zero > 0 && (stats_.min_count == 0 || column.min_non_zero < stats_.min_count)) {
      stats_.min_count = column.min_non_zero;
    }
  }
}

}  // namespace airlock::gateway::inspect
