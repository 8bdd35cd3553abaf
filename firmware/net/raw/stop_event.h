// The eventfd a watching thread polls beside its real descriptor (the receive thread beside
// its socket, the alarm thread beside its timerfd): raising it makes the thread return, so
// close() can join it at once.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <thread>

namespace tandem {

class StopEvent {
 public:
  // 0, or the errno of eventfd(2).
  int Open() {
    fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd_ < 0 ? errno : 0;
  }

  int fd() const { return fd_; }

  // Raises the event, joins `thread` and closes the eventfd.
  void StopAndJoin(std::thread& thread) {
    const uint64_t one = 1;
    // eventfd writes of 8 bytes cannot be partial; a full counter still leaves it readable.
    ssize_t ignored = write(fd_, &one, sizeof one);
    (void)ignored;
    if (thread.joinable()) thread.join();
    Close();
  }

  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

}  // namespace tandem
