// lsk/io/atomic_write.hpp: replace a file atomically (write to temp, fsync, rename).
//
// Algorithm: the new contents go to a fresh temporary file in the destination's
// directory (".<name>.tmp-<pid>-<n>-<random>", created with O_CREAT | O_EXCL so
// the usual umask applies and no other file is ever reused). When every byte is
// written the temporary is fsync'ed, closed and rename(2)d over the destination,
// then the directory is fsync'ed so that the rename itself is durable.
//
// Guarantees: a reader of the destination sees either the complete old file or
// the complete new one, never a mix or a prefix. If anything fails before the
// rename (a write error, a full disk, an exception thrown by the code filling
// the file) the temporary is removed and the old file is left untouched; the
// failure is an lsk::io_error naming the file and the system's reason (or the
// filling code's own exception, passed through). Same directory matters:
// rename is atomic only within one file system.
//
// POSIX only (open/write/fsync/rename).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "lsk/core/error.hpp"

namespace lsk::io {

namespace detail {
inline std::string errno_text(int err) { return std::generic_category().message(err); }
}  // namespace detail

// An open temporary file that becomes `destination` on commit(). Destroyed
// without commit(), it removes the temporary and leaves the destination alone.
class atomic_file {
 public:
  explicit atomic_file(std::filesystem::path destination) : destination_(std::move(destination)) {
    if (destination_.filename().empty()) {
      raise<io_error>("atomic_write: '", destination_.string(), "' does not name a file");
    }
    std::filesystem::path dir = destination_.parent_path();
    if (dir.empty()) dir = ".";
    static std::atomic<std::uint64_t> counter{0};
    std::random_device rd;
    for (int attempt = 0; attempt < 100; ++attempt) {
      // Appended piece by piece: g++ 12 reports a false -Wrestrict for "." + std::string&&.
      std::string tmp_name(1, '.');
      tmp_name += destination_.filename().string();
      tmp_name += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" +
                  std::to_string(rd());
      temp_ = dir / tmp_name;
      fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ >= 0) break;
      if (errno != EEXIST) {
        const int err = errno;
        raise<io_error>("atomic_write: cannot create a temporary file in '", dir.string(), "' for '",
                        destination_.string(), "': ", detail::errno_text(err));
      }
    }
    if (fd_ < 0) raise<io_error>("atomic_write: no free temporary name in '", dir.string(), "'");
    // Replacing an existing file keeps its permission bits.
    struct stat st {};
    if (::stat(destination_.c_str(), &st) == 0) (void)::fchmod(fd_, st.st_mode & 07777);
  }

  atomic_file(const atomic_file&) = delete;
  atomic_file& operator=(const atomic_file&) = delete;

  ~atomic_file() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_.c_str());
  }

  const std::filesystem::path& destination() const { return destination_; }
  const std::filesystem::path& temporary() const { return temp_; }
  std::uint64_t bytes_written() const { return written_; }

  void write(std::span<const std::byte> bytes) {
    if (committed_ || fd_ < 0) raise<io_error>("atomic_write: '", destination_.string(), "' is already committed");
    const auto* p = reinterpret_cast<const char*>(bytes.data());
    std::size_t left = bytes.size();
    while (left > 0) {
      const ::ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        raise<io_error>("atomic_write: writing '", temp_.string(), "' (for '", destination_.string(),
                        "') at byte offset ", written_, ": ", detail::errno_text(err));
      }
      p += n;
      left -= static_cast<std::size_t>(n);
      written_ += static_cast<std::uint64_t>(n);
    }
  }
  void write(std::string_view text) { write(std::as_bytes(std::span<const char>(text.data(), text.size()))); }

  // fsync, close, rename over the destination, fsync the directory.
  void commit() {
    if (committed_ || fd_ < 0) raise<io_error>("atomic_write: '", destination_.string(), "' is already committed");
    if (::fsync(fd_) != 0) {
      const int err = errno;
      raise<io_error>("atomic_write: fsync of '", temp_.string(), "' failed: ", detail::errno_text(err));
    }
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) {
      const int err = errno;
      raise<io_error>("atomic_write: closing '", temp_.string(), "' failed: ", detail::errno_text(err));
    }
    if (::rename(temp_.c_str(), destination_.c_str()) != 0) {
      const int err = errno;
      raise<io_error>("atomic_write: cannot rename '", temp_.string(), "' to '", destination_.string(),
                      "': ", detail::errno_text(err));
    }
    committed_ = true;
    std::filesystem::path dir = destination_.parent_path();
    if (dir.empty()) dir = ".";
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      const int rc = ::fsync(dfd);
      const int err = errno;
      ::close(dfd);
      // Some file systems cannot fsync a directory; the data itself is synced.
      if (rc != 0 && err != EINVAL && err != ENOTSUP) {
        raise<io_error>("atomic_write: '", destination_.string(), "' was replaced but fsync of its directory '",
                        dir.string(), "' failed: ", detail::errno_text(err));
      }
    }
  }

 private:
  std::filesystem::path destination_;
  std::filesystem::path temp_;
  int fd_ = -1;
  std::uint64_t written_ = 0;
  bool committed_ = false;
};

// Replaces `destination` with `bytes`.
inline void atomic_write(const std::filesystem::path& destination, std::span<const std::byte> bytes) {
  atomic_file file(destination);
  file.write(bytes);
  file.commit();
}

// Replaces `destination` with what `fill(file)` writes through file.write(...).
// An exception from `fill` propagates and leaves the destination as it was.
template <class Fill>
requires std::invocable<Fill&, atomic_file&>
void atomic_write(const std::filesystem::path& destination, Fill&& fill) {
  atomic_file file(destination);
  fill(file);
  file.commit();
}

}  // namespace lsk::io
