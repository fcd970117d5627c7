// lsk/recipe/text_corpus.hpp: plain text files turned into one token stream,
// for the stream-based data sources of a plan ("short", "natural_long") and
// for held-out evaluation. Files are read in sorted path order; documents are
// separated by the tokenizer's EOS token.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "lsk/core/error.hpp"

namespace lsk::recipe {

// The .txt files under each path (a file, or a directory searched recursively), sorted.
inline std::vector<std::filesystem::path> text_files(const std::vector<std::filesystem::path>& paths) {
  std::vector<std::filesystem::path> files;
  for (const auto& p : paths) {
    if (std::filesystem::is_regular_file(p)) {
      files.push_back(p);
    } else if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(p))
        if (e.is_regular_file() && e.path().extension() == ".txt") files.push_back(e.path());
    } else {
      raise<io_error>(p.string(), ": no such file or directory");
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) raise<io_error>("no .txt files found in the given paths");
  return files;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) raise<io_error>(path.string(), ": cannot open for reading");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every file encoded and joined, each followed by `eos`.
template <class Tokenizer>
std::vector<std::int32_t> token_stream(const Tokenizer& tok, const std::vector<std::filesystem::path>& files,
                                       std::int32_t eos) {
  std::vector<std::int32_t> out;
  for (const auto& f : files) {
    const auto ids = tok.encode(read_text(f));
    out.insert(out.end(), ids.begin(), ids.end());
    out.push_back(eos);
  }
  return out;
}

}  // namespace lsk::recipe
