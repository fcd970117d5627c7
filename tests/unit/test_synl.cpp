// SynL oracle: an independent checker parses each serialized table back from
// the prompt (Markdown, CSV or JSON Lines, with its own parsers), reads the
// question with regular expressions, recomputes the answer from the parsed
// cells and compares it with the generator's answer. Also: lengths near the
// target, loss on the answer only, same seed -> same bytes, config errors.
// GCC 12 reports a false -Wmaybe-uninitialized inside <regex> (std::function in
// _State) when optimising with the sanitizers; the tests use std::regex freely.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsk/data/byte_tokenizer.hpp"
#include "lsk/data/synl.hpp"

namespace {

using lsk::data::byte_tokenizer;

// ---- the independent checker --------------------------------------------------------
struct parsed_table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  std::size_t col(const std::string& name) const {
    const auto it = std::find(header.begin(), header.end(), name);
    REQUIRE(it != header.end());
    return static_cast<std::size_t>(it - header.begin());
  }
  const std::vector<std::string>& row_by_id(const std::string& id) const {
    for (const auto& r : rows)
      if (r[0] == id) return r;
    FAIL("no row " << id);
    return rows.front();
  }
};

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t j = s.find('\n', i);
    out.push_back(s.substr(i, (j == std::string::npos ? s.size() : j) - i));
    i = j == std::string::npos ? s.size() : j + 1;
  }
  return out;
}

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(' ');
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(' ') - a + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (const char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

parsed_table parse_table(const std::string& text) {
  parsed_table t;
  const auto lines = split_lines(text);
  REQUIRE(!lines.empty());
  if (lines[0].rfind("| ", 0) == 0) {  // Markdown
    auto cells = [](const std::string& line) {
      auto parts = split(line, '|');
      REQUIRE(parts.size() >= 3);
      std::vector<std::string> out;
      for (std::size_t i = 1; i + 1 < parts.size(); ++i) out.push_back(trim(parts[i]));
      return out;
    };
    t.header = cells(lines[0]);
    REQUIRE(lines[1].find("---") != std::string::npos);
    for (std::size_t i = 2; i < lines.size(); ++i) t.rows.push_back(cells(lines[i]));
  } else if (lines[0].rfind("{", 0) == 0) {  // JSON Lines
    for (const auto& line : lines) {
      const auto j = nlohmann::ordered_json::parse(line);
      std::vector<std::string> header, row;
      for (const auto& [k, v] : j.items()) {
        header.push_back(k);
        if (v.is_string()) {
          row.push_back(v.get<std::string>());
        } else if (v.is_number_integer()) {
          row.push_back(std::to_string(v.get<std::int64_t>()));
        } else {
          char buf[64];
          std::snprintf(buf, sizeof buf, "%.2f", v.get<double>());
          row.push_back(buf);
        }
      }
      if (t.header.empty()) t.header = header;
      REQUIRE(header == t.header);
      t.rows.push_back(row);
    }
  } else {  // CSV
    t.header = split(lines[0], ',');
    for (std::size_t i = 1; i < lines.size(); ++i) t.rows.push_back(split(lines[i], ','));
  }
  for (const auto& r : t.rows) REQUIRE(r.size() == t.header.size());
  return t;
}

// Integers as they are, decimals ("12.34") as integer cents.
std::int64_t number(const std::string& s) {
  const auto dot = s.find('.');
  if (dot == std::string::npos) return std::stoll(s);
  REQUIRE(s.size() - dot == 3);
  const std::int64_t whole = std::stoll(s.substr(0, dot));
  return whole * 100 + std::stoll(s.substr(dot + 1));
}
bool is_decimal_column(const parsed_table& t, std::size_t c) {
  return t.rows.front()[c].find('.') != std::string::npos;
}
std::string number_text(const parsed_table& t, std::size_t c, std::int64_t v) {
  if (!is_decimal_column(t, c)) return std::to_string(v);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lld.%02lld", static_cast<long long>(v / 100), static_cast<long long>(v % 100));
  return buf;
}

// Recomputes the answer of `question` over `t`; returns the task name and the answer.
std::pair<std::string, std::string> recompute(const parsed_table& t, const std::string& question) {
  std::smatch m;
  auto is = [&](const char* re) { return std::regex_match(question, m, std::regex(re)); };
  if (is(R"(What is the (\w+) of the row with id (R\d+)\?)")) {
    return {"cell", t.row_by_id(m[2])[t.col(m[1])]};
  }
  if (is(R"(Give the complete row with id (R\d+)\.)")) {
    const auto& r = t.row_by_id(m[1]);
    std::string a;
    for (std::size_t c = 0; c < t.header.size(); ++c) a += (c ? "; " : "") + t.header[c] + ": " + r[c];
    return {"row", a};
  }
  if (is(R"(Which row has (\w+) equal to (.+)\? Give its id\.)")) {
    const std::size_t c = t.col(m[1]);
    std::vector<std::string> ids;
    for (const auto& r : t.rows)
      if (r[c] == m[2].str()) ids.push_back(r[0]);
    REQUIRE(ids.size() == 1);  // the question must be unambiguous
    return {"find", ids[0]};
  }
  if (is(R"(What is the total (\w+) of the rows whose (\w+) is (.+)\? Think step by step\.)")) {
    const std::size_t num = t.col(m[1]), cat = t.col(m[2]);
    std::int64_t sum = 0;
    for (const auto& r : t.rows)
      if (r[cat] == m[3].str()) sum += number(r[num]);
    return {"filter_sum", number_text(t, num, sum)};
  }
  if (is(R"(Among the rows whose (\w+) is (.+), which has the largest (\w+)\? If several tie, give the first in table order; if none match, answer none\. Think step by step\.)")) {
    const std::size_t cat = t.col(m[1]), num = t.col(m[3]);
    std::string best = "none";
    std::int64_t best_value = 0;
    for (const auto& r : t.rows) {
      if (r[cat] != m[2].str()) continue;
      if (best == "none" || number(r[num]) > best_value) {
        best = r[0];
        best_value = number(r[num]);
      }
    }
    return {"filter_max", best};
  }
  if (is(R"(How many rows have (\w+) equal to (.+)\?)")) {
    const std::size_t cat = t.col(m[1]);
    const auto n = std::count_if(t.rows.begin(), t.rows.end(), [&](const auto& r) { return r[cat] == m[2].str(); });
    return {"count", std::to_string(n)};
  }
  if (is(R"(What is the (largest|smallest) (\w+) in the table\?)")) {
    const std::size_t c = t.col(m[2]);
    std::int64_t best = number(t.rows[0][c]);
    for (const auto& r : t.rows) best = m[1] == "largest" ? std::max(best, number(r[c])) : std::min(best, number(r[c]));
    return {m[1] == "largest" ? "max" : "min", number_text(t, c, best)};
  }
  if (is(R"(List the ids of the (\d+) rows with the largest (\w+), largest first; break ties by table order\.)")) {
    const std::size_t c = t.col(m[2]);
    const auto k = static_cast<std::size_t>(std::stoul(m[1]));
    std::vector<std::size_t> idx(t.rows.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::stable_sort(idx.begin(), idx.end(),
                     [&](std::size_t a, std::size_t b) { return number(t.rows[a][c]) > number(t.rows[b][c]); });
    std::string a;
    for (std::size_t i = 0; i < k; ++i) a += (i ? ", " : "") + t.rows[idx[i]][0];
    return {"sort", a};
  }
  if (is(R"(For each (\w+), what is the total (\w+)\? List each value that occurs, in alphabetical order, as 'value: total', separated by '; '\.)")) {
    const std::size_t cat = t.col(m[1]), num = t.col(m[2]);
    std::map<std::string, std::int64_t> totals;
    for (const auto& r : t.rows) totals[r[cat]] += number(r[num]);
    std::string a;
    for (const auto& [k, v] : totals) a += (a.empty() ? "" : "; ") + k + ": " + std::to_string(v);
    return {"group_sum", a};
  }
  FAIL("question not understood: " << question);
  return {};
}

// The final "Answer: X" of a worked answer, or the whole answer.
std::string final_answer(const std::string& answer) {
  const auto at = answer.rfind("Answer: ");
  return at == std::string::npos ? answer : answer.substr(at + 8);
}

// Splits a prompt into its table and its question.
std::pair<std::string, std::string> table_and_question(const std::string& prompt) {
  const auto start = prompt.find("\n\n");
  const auto q = prompt.rfind("\nQuestion: ");
  REQUIRE(start != std::string::npos);
  REQUIRE(q != std::string::npos);
  return {prompt.substr(start + 2, q - (start + 2)), prompt.substr(q + 11)};
}

}  // namespace

TEST_CASE("synl: every answer is re-derived by an independent checker", "[data][synl]") {
  const byte_tokenizer tok;
  lsk::data::synl_config c;
  c.seed = 7;
  c.target_tokens = 3000;
  const lsk::data::synl_synthesizer synth(tok, c);
  std::set<std::string> tasks, formats;
  for (std::uint64_t i = 0; i < 120; ++i) {
    const auto item = synth.generate_item(i);
    const auto [table_text, question] = table_and_question(item.prompt);
    CHECK(table_text == item.table);
    const parsed_table t = parse_table(table_text);
    CHECK(t.rows.size() == item.rows);
    CHECK(t.header.size() == item.columns);
    std::set<std::string> ids;
    for (const auto& r : t.rows) ids.insert(r[0]);
    CHECK(ids.size() == t.rows.size());  // keys are unique
    const auto [task, expected] = recompute(t, question);
    INFO("item " << i << " task " << task << " format " << item.format << "\nquestion: " << question);
    CHECK(task == item.task);
    CHECK(final_answer(item.answer) == expected);
    tasks.insert(task);
    formats.insert(item.format);
  }
  CHECK(tasks == std::set<std::string>{"cell", "row", "find", "filter_sum", "filter_max", "count", "max", "min", "sort",
                                       "group_sum"});
  CHECK(formats == std::set<std::string>{"markdown", "csv", "jsonl"});
}

TEST_CASE("synl: worked steps list exactly the filtered rows", "[data][synl]") {
  const byte_tokenizer tok;
  lsk::data::synl_config c;
  c.seed = 3;
  c.target_tokens = 2000;
  c.retrieval_weight = 0;
  c.global_weight = 0;
  const lsk::data::synl_synthesizer synth(tok, c);
  for (std::uint64_t i = 0; i < 20; ++i) {
    const auto item = synth.generate_item(i);
    CHECK(item.family == "reasoning");
    const auto [table_text, question] = table_and_question(item.prompt);
    const parsed_table t = parse_table(table_text);
    std::smatch m;
    REQUIRE(std::regex_search(question, m, std::regex(R"(rows whose (\w+) is ([^,?]+))")));
    const std::size_t cat = t.col(m[1]);
    std::string listed;
    for (const auto& r : t.rows)
      if (r[cat] == m[2].str()) listed += r[0] + " (";
    std::string steps_ids;
    const std::string step1 = item.answer.substr(0, item.answer.find('\n'));
    std::regex id_re(R"((R\d+) \()");
    for (auto it = std::sregex_iterator(step1.begin(), step1.end(), id_re); it != std::sregex_iterator(); ++it)
      steps_ids += (*it)[1].str() + " (";
    CHECK(steps_ids == listed);
    CHECK(item.answer.find("Step 2: ") != std::string::npos);
  }
}

TEST_CASE("synl: prompt lengths follow the target, 2K to 100K tokens", "[data][synl]") {
  const byte_tokenizer tok;
  for (const std::size_t target : {2048u, 16384u, 102400u}) {
    lsk::data::synl_config c;
    c.seed = 11;
    c.target_tokens = target;
    const lsk::data::synl_synthesizer synth(tok, c);
    for (std::uint64_t i = 0; i < 3; ++i) {
      const auto s = synth.generate(i);
      INFO("target " << target << " got " << s.size());
      CHECK(s.size() <= target + 2 * s.answer.size() + 64);
      CHECK(static_cast<double>(s.size()) >= 0.85 * static_cast<double>(target));
    }
  }
}

TEST_CASE("synl: loss only on the answer and its EOS; same seed, same bytes", "[data][synl]") {
  const byte_tokenizer tok;
  lsk::data::synl_config c;
  c.target_tokens = 1024;
  const lsk::data::synl_synthesizer synth(tok, c);
  const auto s = synth.generate(5);
  s.check();
  std::vector<std::int32_t> trained;
  for (std::size_t t = 0; t < s.size(); ++t)
    if (s.loss_mask[t]) trained.push_back(s.tokens[t]);
  REQUIRE(!trained.empty());
  CHECK(trained.back() == tok.eos_id());
  trained.pop_back();
  CHECK(tok.decode(trained) == s.answer);
  CHECK(s.tokens.front() == tok.bos_id());

  const lsk::data::synl_synthesizer again(tok, c);
  for (std::uint64_t i = 0; i < 5; ++i) {
    const auto a = synth.generate(i), b = again.generate(i);
    CHECK(a.tokens == b.tokens);
    CHECK(a.loss_mask == b.loss_mask);
  }
  c.seed = 99;
  const lsk::data::synl_synthesizer other(tok, c);
  CHECK(other.generate(0).tokens != synth.generate(0).tokens);
  // The view is lazy and equals generate(i).
  std::size_t k = 0;
  for (const auto& v : synth.samples(3)) CHECK(v.tokens == synth.generate(k++).tokens);
}

TEST_CASE("synl: config from JSON, errors name the key", "[data][synl][config]") {
  using json = nlohmann::json;
  const auto c = lsk::data::synl_config::from_json(json{{"target_tokens", 8192}, {"formats", {"csv"}}, {"seed", 4}});
  CHECK(c.target_tokens == 8192);
  CHECK(c.formats == std::vector<std::string>{"csv"});
  CHECK_THROWS_WITH(lsk::data::synl_config::from_json(json{{"formats", {"xml"}}}),
                    Catch::Contains("synl.formats") && Catch::Contains("xml"));
  CHECK_THROWS_WITH(lsk::data::synl_config::from_json(json{{"target_tokens", "big"}}),
                    Catch::Contains("synl.target_tokens"));
  CHECK_THROWS_WITH(lsk::data::synl_config::from_json(json{{"target_tokns", 5}}),
                    Catch::Contains("synl.target_tokns") && Catch::Contains("unknown key"));
  CHECK_THROWS_AS(lsk::data::synl_config::from_json(json{{"min_columns", 2}}), lsk::config_error);
  CHECK_THROWS_WITH(lsk::data::synl_config::from_json(json{{"chat", {{"add_bos", 1}}}}),
                    Catch::Contains("synl.chat.add_bos"));
}
