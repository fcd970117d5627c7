// Helpers shared by the file-format and tokenizer tests: a scratch directory,
// the location of ../shared (optional), and catching an exception's message.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

namespace lsk_test {

// A fresh directory under the system temp directory, removed on destruction.
class scratch_dir {
 public:
  scratch_dir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("lsk-io-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
             std::to_string(std::random_device{}()));
    std::filesystem::create_directories(path_);
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// The shared models directory (LSK_SHARED_DIR, set by tests/CMakeLists.txt to
// <source>/../shared), or nothing when it is absent on this machine.
inline std::optional<std::filesystem::path> shared_dir() {
#ifdef LSK_SHARED_DIR
  const std::filesystem::path p = LSK_SHARED_DIR;
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) return p;
#endif
  return std::nullopt;
}

// A file under the shared directory, or nothing (with a WARN saying the test
// is skipped) when it is missing.
#define LSK_REQUIRE_SHARED_FILE(var, relative)                                           \
  const auto var##_dir = ::lsk_test::shared_dir();                                       \
  if (!var##_dir || !std::filesystem::exists(*var##_dir / (relative))) {                 \
    WARN("skipped: " << (relative) << " not found (needs the shared models directory)"); \
    return;                                                                              \
  }                                                                                      \
  const std::filesystem::path var = *var##_dir / (relative)

inline std::vector<std::byte> read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  for (std::size_t i = 0; i < chars.size(); ++i) out[i] = static_cast<std::byte>(chars[i]);
  return out;
}

inline void write_bytes(const std::filesystem::path& p, const std::vector<std::byte>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// The what() of the E thrown by f; fails the test when f throws nothing or something else.
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("threw the wrong exception type: " << e.what());
  }
  FAIL("did not throw");
  return {};
}

inline bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

}  // namespace lsk_test
