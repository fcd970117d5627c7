// lsk/recipe/text_corpus.hpp: the plain text files a training run reads: the
// .txt files under the given paths, in sorted order, each read whole.
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

}  // namespace lsk::recipe
