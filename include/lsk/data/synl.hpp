// lsk/data/synl.hpp: SynL, synthetic lengthy tables for long-context SFT.
//
// Item i (rng r = sample_rng(seed, i)):
//  1. Columns: "id" (unique keys "R" + 5 digits: 10000 + (a*row + b) mod 90000
//     with a coprime to 90000, so no two rows share a key), then a category
//     and an integer column (the reasoning and group-by questions need both),
//     then random further columns up to a random count in [min_columns,
//     max_columns], types drawn from column_types: name (first + last name),
//     integer (uniform in [int_min, int_max]), decimal (two decimals, uniform
//     cents in [0, decimal_max_cents]), date (YYYY-MM-DD, uniform over
//     2000-01-01 + [0, 9000) days), category (4-8 values of a fixed pool).
//     Column names are unique; decimals are held as integer cents so every
//     sum is exact.
//  2. Rows: generated one after another from r, so the first n rows do not
//     depend on how many are kept. The row count is fitted to target_tokens
//     (the tokens of the rendered prompt): estimated from the tokens of the
//     first rows, then rendered and counted, and scaled down up to 4 times
//     until the prompt is within target_tokens.
//  3. Serialization (one format per item, drawn from formats):
//     markdown "| id | a |\n|---|---|\n| R10007 | x |", csv "id,a\nR10007,x",
//     jsonl {"id": "R10007", "a": "x", "n": 12, "p": 3.50} (numbers bare).
//  4. One question from a family drawn by retrieval/reasoning/global weight:
//     retrieval: cell (a row's value), row (the whole row by key), find (the id
//                of the row holding a value unique in its column);
//     reasoning: filter_sum, filter_max: list the matching rows, then compute,
//                with every step written out ("Step 1 ... Answer: X");
//     global:    count, max, min, sort (top 5 ids, ties by table order),
//                group_sum (per category value that occurs, alphabetical).
//     The answer is computed from the generated values, never estimated.
//  5. The sample: the chat template over (prompt, answer): loss on the answer.
// The exact answer text formats are part of the contract (tests parse them):
// numbers as in the table, lists joined by ", ", rows as "col: value; ...",
// groups as "value: total; ...", reasoning answers end with "Answer: X".
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "lsk/concepts/synthesizer.hpp"
#include "lsk/concepts/tokenizer.hpp"
#include "lsk/data/chat.hpp"
#include "lsk/data/json_config.hpp"
#include "lsk/data/synthesis.hpp"

namespace lsk::data {

struct synl_config {
  std::uint64_t seed = 0;
  std::size_t target_tokens = 4096;              // tokens of the rendered prompt (table + question)
  std::size_t min_columns = 4, max_columns = 8;  // including "id"
  std::vector<std::string> column_types = {"name", "integer", "decimal", "date", "category"};
  std::vector<std::string> formats = {"markdown", "csv", "jsonl"};
  double retrieval_weight = 1.0, reasoning_weight = 1.0, global_weight = 1.0;
  std::int64_t int_min = 0, int_max = 999;
  std::int64_t decimal_max_cents = 99999;
  chat_template chat;

  void validate(std::string_view where = "synl") const {
    using json_config::require;
    require(target_tokens >= 64, where, "target_tokens", "must be at least 64, got ", target_tokens);
    require(min_columns >= 3, where, "min_columns", "must be at least 3 (id, a category, an integer)");
    require(max_columns >= min_columns && max_columns <= 24, where, "max_columns", "must be in [min_columns, 24]");
    require(!column_types.empty(), where, "column_types", "must not be empty");
    for (const auto& t : column_types)
      json_config::require_choice(t, where, "column_types", {"name", "integer", "decimal", "date", "category"});
    require(!formats.empty(), where, "formats", "must not be empty");
    for (const auto& f : formats) json_config::require_choice(f, where, "formats", {"markdown", "csv", "jsonl"});
    require(retrieval_weight >= 0 && reasoning_weight >= 0 && global_weight >= 0 &&
                retrieval_weight + reasoning_weight + global_weight > 0,
            where, "retrieval_weight", "the family weights must be >= 0 with a positive sum");
    require(int_min <= int_max && int_min >= -1000000000 && int_max <= 1000000000, where, "int_max",
            "need int_min <= int_max within +-1e9");
    require(decimal_max_cents >= 1 && decimal_max_cents <= 1000000000, where, "decimal_max_cents",
            "must be in [1, 1e9]");
  }

  static synl_config from_json(const json_config::json& j, std::string_view where = "synl") {
    json_config::check_keys(
        j, where,
        {"seed", "target_tokens", "min_columns", "max_columns", "column_types", "formats", "retrieval_weight",
         "reasoning_weight", "global_weight", "int_min", "int_max", "decimal_max_cents", "chat"});
    synl_config c;
    json_config::read(j, where, "seed", c.seed);
    json_config::read(j, where, "target_tokens", c.target_tokens);
    json_config::read(j, where, "min_columns", c.min_columns);
    json_config::read(j, where, "max_columns", c.max_columns);
    json_config::read(j, where, "column_types", c.column_types);
    json_config::read(j, where, "formats", c.formats);
    json_config::read(j, where, "retrieval_weight", c.retrieval_weight);
    json_config::read(j, where, "reasoning_weight", c.reasoning_weight);
    json_config::read(j, where, "global_weight", c.global_weight);
    json_config::read(j, where, "int_min", c.int_min);
    json_config::read(j, where, "int_max", c.int_max);
    json_config::read(j, where, "decimal_max_cents", c.decimal_max_cents);
    if (j.contains("chat")) c.chat = chat_template::from_json(j["chat"], json_config::key_path(where, "chat"));
    c.validate(where);
    return c;
  }
};

enum class synl_type { key, name, integer, decimal, date, category };

// One generated table: columns and cells as numbers (text made on demand).
struct synl_table {
  struct column {
    std::string name;
    synl_type type;
    std::vector<std::string> categories;  // category columns: the value pool
  };
  std::vector<column> columns;
  std::vector<std::vector<std::int64_t>> rows;
  std::int64_t key_multiplier = 1,
               key_offset = 0;  // id of row i: 10000 + (multiplier * i + offset) mod 90000  // per row, per column: key
                                // number, integer, cents, day, category index, or name index (first * 64 + last)

  std::string cell(std::size_t row, std::size_t col) const;
  bool numeric(std::size_t col) const {
    return columns[col].type == synl_type::integer || columns[col].type == synl_type::decimal;
  }
};

// A generated question-answer item, before rendering.
struct synl_item {
  std::string format;  // markdown, csv, jsonl
  std::string table;   // the serialized table
  std::string family;  // retrieval, reasoning, global
  std::string task;    // cell, row, find, filter_sum, filter_max, count, max, min, sort, group_sum
  std::string question, answer;
  std::string prompt;  // what the user turn holds: intro, table, question
  std::size_t rows = 0, columns = 0;
};

namespace synl_detail {
inline constexpr std::array<std::string_view, 64> first_names = {
    "Ada",  "Ben",  "Cara", "Dev",  "Eli",  "Fay",   "Gus",  "Hana", "Ivo",  "Jia",  "Kai",  "Lena", "Milo",
    "Nia",  "Omar", "Pia",  "Quin", "Rosa", "Sam",   "Tara", "Uma",  "Vik",  "Wren", "Xavi", "Yara", "Zed",
    "Abel", "Bea",  "Cruz", "Dina", "Emil", "Faye",  "Gil",  "Hugo", "Iris", "Joel", "Kira", "Liam", "Maya",
    "Noah", "Olga", "Paul", "Rhea", "Saul", "Tess",  "Ugo",  "Vera", "Will", "Xena", "Yuri", "Zoe",  "Amos",
    "Bran", "Cleo", "Dora", "Ezra", "Finn", "Greta", "Hal",  "Ines", "Jude", "Kofi", "Lars", "Mina"};
inline constexpr std::array<std::string_view, 64> last_names = {
    "Abbott", "Baker", "Chen",   "Diaz",  "Evans", "Fox",    "Garcia", "Hale",  "Ito",    "Jones", "Khan",
    "Lopez",  "Moore", "Nolan",  "Ortiz", "Park",  "Quinn",  "Reyes",  "Silva", "Tanaka", "Usman", "Vance",
    "Wong",   "Xu",    "Young",  "Zhou",  "Adler", "Brooks", "Costa",  "Dunn",  "Ellis",  "Frost", "Gray",
    "Hayes",  "Ibsen", "Jensen", "Klein", "Lund",  "Meyer",  "Novak",  "Olsen", "Perez",  "Rossi", "Stone",
    "Tran",   "Ueda",  "Voss",   "Walsh", "Yates", "Zeller", "Ames",   "Bell",  "Cole",   "Drake", "Engel",
    "Ford",   "Grant", "Hunt",   "Ivers", "Joyce", "Kerr",   "Lowe",   "Marsh", "Nash"};
struct type_names {
  synl_type type;
  std::array<std::string_view, 8> names;
};
inline constexpr std::array<type_names, 5> column_names = {{
    {synl_type::name, {"owner", "manager", "contact", "author", "buyer", "agent", "tutor", "driver"}},
    {synl_type::integer, {"units", "score", "visits", "stock", "floor", "points", "seats", "orders"}},
    {synl_type::decimal, {"price", "weight", "balance", "rating", "height", "cost", "rate", "distance"}},
    {synl_type::date, {"date", "joined", "shipped", "due", "opened", "renewed", "visited", "closed"}},
    {synl_type::category, {"region", "status", "team", "colour", "grade", "channel", "tier", "shape"}},
}};
inline constexpr std::array<std::array<std::string_view, 8>, 8> category_pools = {{
    {"North", "South", "East", "West", "Central", "Coast", "Hills", "Islands"},
    {"active", "closed", "pending", "paused", "draft", "review", "archived", "open"},
    {"Red", "Blue", "Green", "Gold", "Silver", "Black", "White", "Orange"},
    {"amber", "teal", "violet", "ochre", "cyan", "maroon", "olive", "coral"},
    {"A", "B", "C", "D", "E", "F", "G", "H"},
    {"web", "phone", "store", "mail", "partner", "kiosk", "app", "fax"},
    {"basic", "plus", "pro", "elite", "free", "team", "max", "lite"},
    {"circle", "square", "star", "oval", "cross", "arrow", "ring", "wave"},
}};
// Coprime to 90000 (no factor 2, 3 or 5) and large, so consecutive rows get scattered keys.
inline constexpr std::array<std::int64_t, 12> key_multipliers = {7919,  15401, 23447, 31337, 38119, 44641,
                                                                 52711, 61417, 67829, 71249, 77783, 86029};

// Days since 2000-01-01 -> "YYYY-MM-DD" (proleptic Gregorian; Hinnant's civil_from_days).
inline std::string format_date(std::int64_t days_since_2000) {
  std::int64_t z = days_since_2000 + 10957 + 719468;  // 10957: 1970-01-01 .. 2000-01-01
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = yoe + era * 400;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", static_cast<int>(y), static_cast<int>(m), static_cast<int>(d));
  return buf;
}

inline std::string format_cents(std::int64_t cents) {
  std::string s = cents < 0 ? "-" : "";
  const std::int64_t a = cents < 0 ? -cents : cents;
  s += std::to_string(a / 100);
  s += '.';
  s += static_cast<char>('0' + (a % 100) / 10);
  s += static_cast<char>('0' + a % 10);
  return s;
}
}  // namespace synl_detail

inline std::string synl_table::cell(std::size_t row, std::size_t col) const {
  const std::int64_t v = rows[row][col];
  switch (columns[col].type) {
    case synl_type::key: {
      std::string s = "R";
      s += std::to_string(v);
      return s;
    }
    case synl_type::name: {
      std::string s(synl_detail::first_names[static_cast<std::size_t>(v / 64)]);
      s += ' ';
      s += synl_detail::last_names[static_cast<std::size_t>(v % 64)];
      return s;
    }
    case synl_type::integer:
      return std::to_string(v);
    case synl_type::decimal:
      return synl_detail::format_cents(v);
    case synl_type::date:
      return synl_detail::format_date(v);
    case synl_type::category:
      return columns[col].categories[static_cast<std::size_t>(v)];
  }
  return {};
}

template <Tokenizer Tok>
class synl_synthesizer {
 public:
  synl_synthesizer(const Tok& tok, synl_config config) : tok_(&tok), config_(std::move(config)) { config_.validate(); }

  const synl_config& config() const { return config_; }

  synl_item generate_item(std::uint64_t index) const {
    rng r = sample_rng(config_.seed, index);
    synl_item item;
    item.format = pick(r, config_.formats);
    synl_table table = make_columns(r);
    const std::size_t ncols = table.columns.size();
    rng row_rng = r.fork(1);
    auto grow = [&](std::size_t n) {
      while (table.rows.size() < n) table.rows.push_back(make_row(row_rng, table, table.rows.size()));
    };
    // Fit the row count to the token budget.
    const std::string intro = introduction(item.format);
    const std::size_t overhead = tok_->encode(intro).size() + 48;  // + the question, roughly
    grow(8);
    const std::size_t probe = tok_->encode(serialize(table, item.format, 8)).size();
    const std::size_t header = tok_->encode(serialize(table, item.format, 0)).size();
    const double per_row = std::max(1.0, static_cast<double>(probe - std::min(probe, header)) / 8.0);
    const std::size_t budget =
        config_.target_tokens > overhead + header ? config_.target_tokens - overhead - header : 0;
    std::size_t n = std::clamp<std::size_t>(static_cast<std::size_t>(static_cast<double>(budget) / per_row), 3, 89999);
    grow(n);
    std::size_t tokens = 0;
    for (int attempt = 0; attempt < 4; ++attempt) {
      tokens = tok_->encode(serialize(table, item.format, n)).size() + overhead;
      if (tokens <= config_.target_tokens || n <= 3) break;
      n = std::max<std::size_t>(
          3, static_cast<std::size_t>(static_cast<double>(n) * static_cast<double>(config_.target_tokens) /
                                      static_cast<double>(tokens) * 0.995));
    }
    table.rows.resize(n);
    item.rows = n;
    item.columns = ncols;
    item.table = serialize(table, item.format, n);
    rng q = r.fork(2);
    ask(q, table, item);
    item.prompt = intro;
    item.prompt += item.table;
    item.prompt += "\nQuestion: ";
    item.prompt += item.question;
    return item;
  }

  sample generate(std::uint64_t index) const {
    synl_item item = generate_item(index);
    sample s = render_chat(*tok_, config_.chat, item.prompt, item.answer, 0);
    s.kind = "synl";
    return s;
  }

  auto samples(std::uint64_t count) const { return sample_view(*this, count); }

  static std::string introduction(const std::string& format) {
    std::string s = "The table below is in ";
    s += format == "markdown" ? "Markdown" : format == "csv" ? "CSV" : "JSON Lines";
    s += " format; each row has a unique id.\n\n";
    return s;
  }

  // The first n rows of `table` in `format`.
  static std::string serialize(const synl_table& table, const std::string& format, std::size_t n) {
    std::string out;
    const std::size_t ncols = table.columns.size();
    if (format == "markdown") {
      out += '|';
      for (const auto& c : table.columns) {
        out += ' ';
        out += c.name;
        out += " |";
      }
      out += "\n|";
      for (std::size_t c = 0; c < ncols; ++c) out += "---|";
      out += '\n';
      for (std::size_t r = 0; r < n; ++r) {
        out += '|';
        for (std::size_t c = 0; c < ncols; ++c) {
          out += ' ';
          out += table.cell(r, c);
          out += " |";
        }
        out += '\n';
      }
    } else if (format == "csv") {
      for (std::size_t c = 0; c < ncols; ++c) {
        if (c) out += ',';
        out += table.columns[c].name;
      }
      out += '\n';
      for (std::size_t r = 0; r < n; ++r) {
        for (std::size_t c = 0; c < ncols; ++c) {
          if (c) out += ',';
          out += table.cell(r, c);
        }
        out += '\n';
      }
    } else {
      for (std::size_t r = 0; r < n; ++r) {
        out += '{';
        for (std::size_t c = 0; c < ncols; ++c) {
          if (c) out += ", ";
          out += '"';
          out += table.columns[c].name;
          out += "\": ";
          const bool bare = table.numeric(c);
          if (!bare) out += '"';
          out += table.cell(r, c);
          if (!bare) out += '"';
        }
        out += "}\n";
      }
    }
    return out;
  }

 private:
  synl_table make_columns(rng& r) const {
    using namespace synl_detail;
    synl_table t;
    t.columns.push_back({"id", synl_type::key, {}});
    const auto ncols = static_cast<std::size_t>(
        uniform_int(r, static_cast<std::int64_t>(config_.min_columns), static_cast<std::int64_t>(config_.max_columns)));
    std::vector<synl_type> types = {synl_type::category, synl_type::integer};
    while (types.size() + 1 < ncols) {
      const std::string& name = pick(r, config_.column_types);
      types.push_back(name == "name"      ? synl_type::name
                      : name == "integer" ? synl_type::integer
                      : name == "decimal" ? synl_type::decimal
                      : name == "date"    ? synl_type::date
                                          : synl_type::category);
    }
    std::array<std::uint32_t, 5> used{};  // names taken per type (cycle through a shuffled start)
    std::array<std::uint32_t, 5> start{};
    for (auto& s : start) s = r.below(8);
    std::uint32_t pools_used = 0;
    const std::uint32_t pool_start = r.below(8);
    for (const synl_type ty : types) {
      std::size_t k = 0;
      while (column_names[k].type != ty) ++k;
      if (used[k] >= 8) continue;  // at most 8 columns of one type
      std::string name(column_names[k].names[(start[k] + used[k]++) % 8]);
      synl_table::column c{std::move(name), ty, {}};
      if (ty == synl_type::category) {
        const auto& pool = category_pools[(pool_start + pools_used++) % 8];
        const auto count = static_cast<std::size_t>(uniform_int(r, 4, 8));
        const std::uint32_t offset = r.below(8);
        for (std::size_t i = 0; i < count; ++i) c.categories.emplace_back(pool[(offset + i) % 8]);
      }
      t.columns.push_back(std::move(c));
    }
    t.key_multiplier = synl_detail::key_multipliers[r.below(12)];
    t.key_offset = uniform_int(r, 0, 89999);
    return t;
  }

  std::vector<std::int64_t> make_row(rng& r, const synl_table& t, std::size_t index) const {
    std::vector<std::int64_t> row(t.columns.size());
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      switch (t.columns[c].type) {
        case synl_type::key:
          row[c] = 10000 + (t.key_multiplier * static_cast<std::int64_t>(index) + t.key_offset) % 90000;
          break;
        case synl_type::name:
          row[c] = static_cast<std::int64_t>(r.below(64)) * 64 + r.below(64);
          break;
        case synl_type::integer:
          row[c] = uniform_int(r, config_.int_min, config_.int_max);
          break;
        case synl_type::decimal:
          row[c] = uniform_int(r, 0, config_.decimal_max_cents);
          break;
        case synl_type::date:
          row[c] = uniform_int(r, 0, 8999);
          break;
        case synl_type::category:
          row[c] = r.below(static_cast<std::uint32_t>(t.columns[c].categories.size()));
          break;
      }
    }
    return row;
  }

  static std::vector<std::size_t> columns_of(const synl_table& t, bool (*want)(synl_type)) {
    std::vector<std::size_t> out;
    for (std::size_t c = 0; c < t.columns.size(); ++c)
      if (want(t.columns[c].type)) out.push_back(c);
    return out;
  }

  void ask(rng& r, const synl_table& t, synl_item& item) const {
    const double total = config_.retrieval_weight + config_.reasoning_weight + config_.global_weight;
    const double u = r.uniform01_d() * total;
    const std::size_t n = t.rows.size();
    const auto numeric =
        columns_of(t, [](synl_type ty) { return ty == synl_type::integer || ty == synl_type::decimal; });
    const auto integers = columns_of(t, [](synl_type ty) { return ty == synl_type::integer; });
    const auto categories = columns_of(t, [](synl_type ty) { return ty == synl_type::category; });
    const auto values = columns_of(t, [](synl_type ty) { return ty != synl_type::key; });
    auto col = [&](std::size_t c) -> const std::string& { return t.columns[c].name; };
    auto sum_text = [&](std::size_t c, std::int64_t s) {
      return t.columns[c].type == synl_type::decimal ? synl_detail::format_cents(s) : std::to_string(s);
    };
    std::string& q = item.question;
    std::string& a = item.answer;
    if (u < config_.retrieval_weight) {
      item.family = "retrieval";
      const std::uint32_t kind = r.below(3);
      const std::size_t row = r.below(static_cast<std::uint32_t>(n));
      if (kind == 2) {  // find: a value unique in its column (name, decimal or date columns mostly are)
        for (int attempt = 0; attempt < 16; ++attempt) {
          const std::size_t c = pick(r, values), rr = r.below(static_cast<std::uint32_t>(n));
          std::size_t count = 0;
          for (std::size_t i = 0; i < n && count < 2; ++i) count += t.rows[i][c] == t.rows[rr][c];
          if (count == 1) {
            item.task = "find";
            q = "Which row has " + col(c) + " equal to " + t.cell(rr, c) + "? Give its id.";
            a = t.cell(rr, 0);
            return;
          }
        }
      }
      if (kind == 1) {
        item.task = "row";
        q = std::string("Give the complete row with id ") + t.cell(row, 0) + ".";
        for (std::size_t c = 0; c < t.columns.size(); ++c) {
          if (c) a += "; ";
          a += col(c) + ": " + t.cell(row, c);
        }
        return;
      }
      item.task = "cell";
      const std::size_t c = pick(r, values);
      q = "What is the " + col(c) + " of the row with id " + t.cell(row, 0) + "?";
      a = t.cell(row, c);
      return;
    }
    const std::size_t cat = pick(r, categories);
    const auto value = static_cast<std::int64_t>(r.below(static_cast<std::uint32_t>(t.columns[cat].categories.size())));
    const std::string& value_text = t.columns[cat].categories[static_cast<std::size_t>(value)];
    if (u < config_.retrieval_weight + config_.reasoning_weight) {
      item.family = "reasoning";
      const bool max = r.below(2) == 1;
      const std::size_t num = max ? pick(r, numeric) : pick(r, integers);
      std::string listing;
      std::int64_t sum = 0;
      std::size_t matches = 0, best = n;
      for (std::size_t i = 0; i < n; ++i) {
        if (t.rows[i][cat] != value) continue;
        if (matches++) listing += ", ";
        listing += t.cell(i, 0) + " (" + t.cell(i, num) + ")";
        sum += t.rows[i][num];
        if (best == n || t.rows[i][num] > t.rows[best][num]) best = i;
      }
      a = "Step 1: the rows whose " + col(cat) + " is " + value_text + ", with their " + col(num) + ": " +
          (matches ? listing : std::string("none")) + ".\n";
      if (max) {
        item.task = "filter_max";
        q = "Among the rows whose " + col(cat) + " is " + value_text + ", which has the largest " + col(num) +
            "? If several tie, give the first in table order; if none match, answer none. Think step by step.";
        a += "Step 2: the largest " + col(num) + " among them is " + (matches ? t.cell(best, num) : "none") +
             (matches ? std::string(", first in row ") + t.cell(best, 0) : std::string()) +
             ".\nAnswer: " + (matches ? t.cell(best, 0) : std::string("none"));
      } else {
        item.task = "filter_sum";
        q = "What is the total " + col(num) + " of the rows whose " + col(cat) + " is " + value_text +
            "? Think step by step.";
        a += std::string("Step 2: the sum of ") + std::to_string(matches) + " values is " + sum_text(num, sum) +
             ".\nAnswer: " + sum_text(num, sum);
      }
      return;
    }
    item.family = "global";
    const std::uint32_t kind = r.below(5);
    const std::size_t num = pick(r, numeric);
    if (kind == 0) {
      item.task = "count";
      std::size_t count = 0;
      for (std::size_t i = 0; i < n; ++i) count += t.rows[i][cat] == value;
      q = "How many rows have " + col(cat) + " equal to " + value_text + "?";
      a = std::to_string(count);
    } else if (kind == 1 || kind == 2) {
      item.task = kind == 1 ? "max" : "min";
      std::size_t best = 0;
      for (std::size_t i = 1; i < n; ++i)
        if (kind == 1 ? t.rows[i][num] > t.rows[best][num] : t.rows[i][num] < t.rows[best][num]) best = i;
      q = std::string("What is the ") + (kind == 1 ? "largest " : "smallest ") + col(num) + " in the table?";
      a = t.cell(best, num);
    } else if (kind == 3) {
      item.task = "sort";
      std::vector<std::size_t> order(n);
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::stable_sort(order.begin(), order.end(),
                       [&](std::size_t x, std::size_t y) { return t.rows[x][num] > t.rows[y][num]; });
      const std::size_t top = std::min<std::size_t>(5, n);
      q = std::string("List the ids of the ") + std::to_string(top) + " rows with the largest " + col(num) +
          ", largest first; break ties by table order.";
      for (std::size_t i = 0; i < top; ++i) {
        if (i) a += ", ";
        a += t.cell(order[i], 0);
      }
    } else {
      item.task = "group_sum";
      const std::size_t ic = pick(r, integers);
      std::map<std::string, std::int64_t> totals;
      for (std::size_t i = 0; i < n; ++i) totals[t.cell(i, cat)] += t.rows[i][ic];
      q = "For each " + col(cat) + ", what is the total " + col(ic) +
          "? List each value that occurs, in alphabetical order, as 'value: total', separated by '; '.";
      bool first = true;
      for (const auto& [k, v] : totals) {
        if (!first) a += "; ";
        first = false;
        a += k + ": " + std::to_string(v);
      }
    }
  }

  const Tok* tok_;
  synl_config config_;
};

}  // namespace lsk::data
