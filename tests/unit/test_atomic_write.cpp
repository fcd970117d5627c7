// atomic_write: the destination holds the old or the new contents, never a mix.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "io_test_support.hpp"
#include "lsk/io/atomic_write.hpp"

namespace {
std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
std::size_t entries(const std::filesystem::path& dir) {
  return static_cast<std::size_t>(
      std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()));
}
}  // namespace

TEST_CASE("atomic_write: creates and replaces a file", "[io][atomic]") {
  lsk_test::scratch_dir dir;
  const auto path = dir / "f.txt";
  const std::string first = "first contents";
  lsk::io::atomic_write(path, std::as_bytes(std::span<const char>(first.data(), first.size())));
  CHECK(slurp(path) == first);
  lsk::io::atomic_write(path, [](lsk::io::atomic_file& f) {
    f.write("second ");
    f.write("contents");
    CHECK(f.bytes_written() == 15);
  });
  CHECK(slurp(path) == "second contents");
  CHECK(entries(dir.path()) == 1);
}

TEST_CASE("atomic_write: a failure while writing leaves the old file intact", "[io][atomic]") {
  lsk_test::scratch_dir dir;
  const auto path = dir / "keep.txt";
  lsk::io::atomic_write(path, [](lsk::io::atomic_file& f) { f.write("old"); });
  std::filesystem::path temporary;
  CHECK_THROWS_WITH(lsk::io::atomic_write(path,
                                          [&](lsk::io::atomic_file& f) {
                                            temporary = f.temporary();
                                            CHECK(temporary.parent_path() == path.parent_path());
                                            f.write("half of the new cont");
                                            throw std::runtime_error("disk on fire");
                                          }),
                    "disk on fire");
  CHECK(slurp(path) == "old");
  CHECK_FALSE(std::filesystem::exists(temporary));
  CHECK(entries(dir.path()) == 1);
}

TEST_CASE("atomic_write: errors name the file", "[io][atomic]") {
  lsk_test::scratch_dir dir;
  const auto msg = lsk_test::message_of<lsk::io_error>(
      [&] { lsk::io::atomic_write(dir / "absent" / "x.bin", [](lsk::io::atomic_file& f) { f.write("x"); }); });
  CHECK(lsk_test::contains(msg, "absent"));
  CHECK(lsk_test::contains(msg, "x.bin"));
  lsk::io::atomic_file f(dir / "once.bin");
  f.write("x");
  f.commit();
  CHECK_THROWS_AS(f.commit(), lsk::io_error);
  CHECK_THROWS_AS(f.write("y"), lsk::io_error);
}
