// lsk/eval/needle_score.hpp: exact-match scoring of a generated answer, and
// the needle grid (accuracy per context length and needle depth).
//
// exact_match(generated, expected): the generated text, with leading white
// space dropped, must begin with the expected value, and the value must end at
// a boundary (end of text, white space, or punctuation other than '-' and '_'),
// so "7314" matches "7314." and "7314 is the code" but not "73145" or "7314-2".
#pragma once

#include <algorithm>
#include <cctype>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lsk::eval {

inline bool exact_match(std::string_view generated, std::string_view expected) {
  std::size_t i = 0;
  while (i < generated.size() && std::isspace(static_cast<unsigned char>(generated[i]))) ++i;
  generated.remove_prefix(i);
  std::size_t e = 0;
  while (e < expected.size() && std::isspace(static_cast<unsigned char>(expected[e]))) ++e;
  expected.remove_prefix(e);
  while (!expected.empty() && std::isspace(static_cast<unsigned char>(expected.back()))) expected.remove_suffix(1);
  if (expected.empty() || generated.substr(0, expected.size()) != expected) return false;
  if (generated.size() == expected.size()) return true;
  const auto next = static_cast<unsigned char>(generated[expected.size()]);
  return std::isspace(next) || (std::ispunct(next) && next != '-' && next != '_');
}

// Accuracy per (length, depth) cell; depths in percent.
class needle_grid {
 public:
  void add(long long length, double depth_percent, bool correct) {
    auto& cell = cells_[{length, depth_percent}];
    cell.first += correct ? 1 : 0;
    cell.second += 1;
  }
  std::vector<long long> lengths() const {
    std::vector<long long> out;
    for (const auto& [k, v] : cells_)
      if (std::find(out.begin(), out.end(), k.first) == out.end()) out.push_back(k.first);
    return out;
  }
  std::vector<double> depths() const {
    std::vector<double> out;
    for (const auto& [k, v] : cells_)
      if (std::find(out.begin(), out.end(), k.second) == out.end()) out.push_back(k.second);
    std::sort(out.begin(), out.end());
    return out;
  }
  // Fraction correct in a cell (-1 when the cell has no samples).
  double accuracy(long long length, double depth) const {
    const auto it = cells_.find({length, depth});
    return it == cells_.end() || it->second.second == 0 ? -1.0 : double(it->second.first) / double(it->second.second);
  }
  // Mean over all samples with length in [min_length, max_length].
  double mean(long long min_length = 0, long long max_length = 1LL << 62) const {
    long long right = 0, total = 0;
    for (const auto& [k, v] : cells_) {
      if (k.first < min_length || k.first > max_length) continue;
      right += v.first;
      total += v.second;
    }
    return total == 0 ? 0.0 : double(right) / double(total);
  }
  bool empty() const { return cells_.empty(); }

 private:
  std::map<std::pair<long long, double>, std::pair<long long, long long>> cells_;
};

}  // namespace lsk::eval
