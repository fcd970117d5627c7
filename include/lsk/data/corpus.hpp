// lsk/data/corpus.hpp: corpus readers: a directory of .txt files (one document
// per file) or a JSON Lines file (one {"text": ...} object per line), read as a
// stream of documents, in a deterministic (optionally shuffled) order, with a
// train / held-out split by document.
//
// Streaming: a source reads one document at a time; a text directory lists its
// file names up front (not their contents) and a JSON Lines file is scanned
// once for line offsets only when it must be shuffled, so memory holds one
// document at a time whatever the corpus size.
// Order: files by path (byte order of the relative path), JSON lines by line
// number; with a shuffle seed the order is a Fisher-Yates permutation drawn
// from lsk::rng(seed), the same on every platform.
// Split: a document is held out when splitmix64(FNV-1a-64(id) ^ seed) falls in
// the lowest `heldout_fraction` of the 64-bit range, so the split depends only
// on the document's id (its relative path, or the JSON "id" / line number),
// never on the order or on which other documents exist.
// UTF-8: invalid text is an lsk::encoding_error naming the file, line and byte
// offset (utf8_policy::error), or each maximal invalid subpart becomes U+FFFD
// (utf8_policy::replace) and stats().replaced counts them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsk/core/error.hpp"
#include "lsk/core/rng.hpp"
#include "lsk/data/utf8.hpp"

namespace lsk::data {

struct document {
  std::string id;    // relative path ("train/austen/emma.txt") or JSON "id" / "line N"
  std::string text;  // UTF-8
};

enum class utf8_policy { error, replace };
enum class split_part { all, train, heldout };

struct corpus_options {
  utf8_policy on_invalid_utf8 = utf8_policy::error;
  std::optional<std::uint64_t> shuffle_seed;  // nothing: natural order
  split_part part = split_part::all;
  double heldout_fraction = 0.0;  // of documents, by id hash
  std::uint64_t split_seed = 0;
  std::string text_key = "text";  // JSON Lines: the field holding the text
  std::string id_key = "id";      // JSON Lines: optional field naming the document
};

struct corpus_stats {
  std::size_t documents = 0;  // yielded
  std::size_t bytes = 0;      // of yielded text
  std::size_t skipped = 0;    // documents of the other split part
  std::size_t replaced = 0;   // U+FFFD substitutions (utf8_policy::replace)
};

namespace corpus_detail {
inline std::uint64_t fnv1a64(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}
inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace corpus_detail

// True when the document `id` belongs to the held-out part (see the header).
inline bool is_heldout(std::string_view id, double heldout_fraction, std::uint64_t seed = 0) {
  if (heldout_fraction <= 0.0) return false;
  if (heldout_fraction >= 1.0) return true;
  const std::uint64_t h = corpus_detail::splitmix64(corpus_detail::fnv1a64(id) ^ seed);
  return static_cast<double>(h >> 11) * 0x1.0p-53 < heldout_fraction;
}

// A permutation of 0..n-1 (Fisher-Yates with lsk::rng(seed)).
inline std::vector<std::size_t> shuffled_order(std::size_t n, std::uint64_t seed) {
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  rng r(seed);
  for (std::size_t i = n; i > 1; --i) {
    const auto j = static_cast<std::size_t>(r.below(static_cast<std::uint32_t>(i)));
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

// The common part of the readers: options, split, UTF-8 policy, stats, and an
// input range over the documents (for (const document& d : source) ...).
template <class Derived>
class corpus_source {
 public:
  explicit corpus_source(corpus_options options) : options_(std::move(options)) {
    if (!(options_.heldout_fraction >= 0.0 && options_.heldout_fraction <= 1.0)) {
      raise<config_error>("corpus: heldout_fraction ", options_.heldout_fraction, " is outside [0, 1]");
    }
  }

  const corpus_options& options() const { return options_; }
  const corpus_stats& stats() const { return stats_; }

  // The next document of the selected part, or nothing at the end.
  std::optional<document> next() {
    for (;;) {
      std::optional<document> d = static_cast<Derived*>(this)->read_next();
      if (!d) return d;
      if (options_.part != split_part::all) {
        const bool held = is_heldout(d->id, options_.heldout_fraction, options_.split_seed);
        if (held != (options_.part == split_part::heldout)) {
          ++stats_.skipped;
          continue;
        }
      }
      ++stats_.documents;
      stats_.bytes += d->text.size();
      return d;
    }
  }

  class iterator {
   public:
    using value_type = document;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(corpus_source* s) : source_(s) { ++*this; }
    const document& operator*() const { return *current_; }
    const document* operator->() const { return &*current_; }
    iterator& operator++() {
      current_ = source_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return !it.current_.has_value(); }

   private:
    corpus_source* source_ = nullptr;
    std::optional<document> current_;
  };
  // Single pass: begin() continues from where the stream is.
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const { return {}; }

 protected:
  // Checks or repairs `text` per the policy; `where` names the file and line.
  void apply_utf8_policy(std::string& text, std::string_view where) {
    if (utf8::is_valid(text)) return;
    if (options_.on_invalid_utf8 == utf8_policy::error) utf8::check(text, where);
    std::string fixed;
    stats_.replaced += utf8::append_replacing_invalid(text, fixed);
    text = std::move(fixed);
  }

  corpus_options options_;
  corpus_stats stats_;
};

// A directory tree of .txt files, one document each; the id is the path
// relative to the root with '/' separators.
class text_directory_source : public corpus_source<text_directory_source> {
 public:
  explicit text_directory_source(const std::filesystem::path& root, corpus_options options = {})
      : corpus_source(std::move(options)), root_(root) {
    std::error_code ec;
    if (!std::filesystem::is_directory(root, ec)) {
      raise<io_error>("text_directory_source: '", root.string(), "' is not a directory");
    }
    for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file() && it->path().extension() == ".txt") {
        files_.push_back(it->path().lexically_relative(root).generic_string());
      }
    }
    if (ec) raise<io_error>("text_directory_source: cannot list '", root.string(), "': ", ec.message());
    std::sort(files_.begin(), files_.end());
    if (options_.shuffle_seed) {
      const auto order = shuffled_order(files_.size(), *options_.shuffle_seed);
      std::vector<std::string> shuffled;
      shuffled.reserve(files_.size());
      for (const auto i : order) shuffled.push_back(std::move(files_[i]));
      files_ = std::move(shuffled);
    }
  }

  // The relative paths in reading order (all parts).
  const std::vector<std::string>& files() const { return files_; }

  std::optional<document> read_next() {
    if (next_ >= files_.size()) return std::nullopt;
    const std::string& rel = files_[next_++];
    const std::filesystem::path path = root_ / rel;
    std::ifstream in(path, std::ios::binary);
    if (!in) raise<io_error>("text_directory_source: cannot open '", path.string(), "'");
    document d{rel, std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>())};
    if (in.bad()) raise<io_error>("text_directory_source: cannot read '", path.string(), "'");
    apply_utf8_policy(d.text, path.string());
    return d;
  }

 private:
  std::filesystem::path root_;
  std::vector<std::string> files_;
  std::size_t next_ = 0;
};

// JSON Lines: each non-blank line an object with a string field text_key
// ("text") and optionally id_key ("id", a string or number); documents
// without an id are named "line N" (1-based).
class jsonl_source : public corpus_source<jsonl_source> {
 public:
  explicit jsonl_source(const std::filesystem::path& path, corpus_options options = {})
      : corpus_source(std::move(options)), path_(path.string()), in_(path, std::ios::binary) {
    if (!in_) raise<io_error>("jsonl_source: cannot open '", path_, "'");
    if (options_.shuffle_seed) {
      // One pass for the line offsets only; the text is read when its turn comes.
      std::string line;
      std::uint64_t offset = 0, number = 0;
      while (std::getline(in_, line)) {
        ++number;
        if (line.find_first_not_of(" \t\r") != std::string::npos) lines_.push_back({offset, number});
        offset += line.size() + 1;
      }
      if (in_.bad()) raise<io_error>("jsonl_source: cannot read '", path_, "'");
      const auto order = shuffled_order(lines_.size(), *options_.shuffle_seed);
      std::vector<line_ref> shuffled;
      shuffled.reserve(lines_.size());
      for (const auto i : order) shuffled.push_back(lines_[i]);
      lines_ = std::move(shuffled);
      in_.clear();
    }
  }

  std::optional<document> read_next() {
    std::string line;
    std::uint64_t number = 0;
    if (options_.shuffle_seed) {
      if (next_ >= lines_.size()) return std::nullopt;
      const line_ref ref = lines_[next_++];
      in_.seekg(static_cast<std::streamoff>(ref.offset));
      std::getline(in_, line);
      number = ref.number;
    } else {
      do {
        if (!std::getline(in_, line)) {
          if (in_.bad()) raise<io_error>("jsonl_source: cannot read '", path_, "'");
          return std::nullopt;
        }
        number = ++line_number_;
      } while (line.find_first_not_of(" \t\r") == std::string::npos);
    }
    std::string where = path_;
    where += ':';
    where += std::to_string(number);
    apply_utf8_policy(line, where);  // before parsing: the JSON parser rejects invalid UTF-8 itself
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      raise<format_error>(where, ": not a JSON object: ", e.what());
    }
    if (!j.is_object()) raise<format_error>(where, ": expected a JSON object, got ", j.type_name());
    const auto t = j.find(options_.text_key);
    if (t == j.end() || !t->is_string()) raise<format_error>(where, ": no string field \"", options_.text_key, "\"");
    document d;
    d.text = t->get<std::string>();
    const auto id = j.find(options_.id_key);
    if (id != j.end() && id->is_string()) {
      d.id = id->get<std::string>();
    } else if (id != j.end() && id->is_number_integer()) {
      d.id = id->dump();
    } else {
      d.id = "line ";
      d.id += std::to_string(number);
    }
    return d;
  }

 private:
  struct line_ref {
    std::uint64_t offset, number;
  };
  std::string path_;
  std::ifstream in_;
  std::vector<line_ref> lines_;
  std::size_t next_ = 0;
  std::uint64_t line_number_ = 0;
};

// Reads every remaining document of a source (for corpora that fit in memory).
template <class Source>
std::vector<document> read_all(Source& source) {
  std::vector<document> out;
  while (auto d = source.next()) out.push_back(std::move(*d));
  return out;
}

// A .txt directory or a .jsonl file, by what `path` is.
inline std::vector<document> read_corpus(const std::filesystem::path& path, const corpus_options& options = {}) {
  if (std::filesystem::is_directory(path)) {
    text_directory_source s(path, options);
    return read_all(s);
  }
  jsonl_source s(path, options);
  return read_all(s);
}

}  // namespace lsk::data
