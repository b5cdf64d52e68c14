#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace matn {
namespace {

int threads_from_env() {
  const char* s = std::getenv("MAT_NATIVE_THREADS");
  int n = s ? std::atoi(s) : 1;
  return std::max(1, std::min(n, 256));
}

class Pool {
 public:
  ~Pool() { resize(0); }

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int extra) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    stop_ = false;
    // New workers start from the current generation, so they never re-run a finished job.
    for (int i = 0; i < extra; ++i) workers_.emplace_back([this, i, g = generation_] { loop(i + 1, g); });
  }

  void run(long n, const std::function<void(long, long, int)>& fn) {
    int parts = static_cast<int>(std::min<long>(threads(), n));
    if (parts <= 1 || in_worker_) {
      if (n > 0) fn(0, n, 0);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_ = &fn;
      n_ = n;
      parts_ = parts;
      pending_ = parts - 1;
      ++generation_;
    }
    cv_.notify_all();
    in_worker_ = true;
    chunk(0);
    in_worker_ = false;
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return pending_ == 0; });
    fn_ = nullptr;
  }

 private:
  void chunk(int part) {
    long begin = n_ * part / parts_, end = n_ * (part + 1) / parts_;
    if (begin < end) (*fn_)(begin, end, part);
  }

  void loop(int index, unsigned long seen) {
    in_worker_ = true;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        if (index >= parts_) continue;
      }
      chunk(index);
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(long, long, int)>* fn_ = nullptr;
  long n_ = 0;
  int parts_ = 1, pending_ = 0;
  unsigned long generation_ = 0;
  bool stop_ = false;
  static thread_local bool in_worker_;
};

thread_local bool Pool::in_worker_ = false;

Pool& pool() {
  static Pool* p = [] {
    auto* q = new Pool();  // leaked on purpose: joining threads during process exit can deadlock
    q->resize(threads_from_env() - 1);
    return q;
  }();
  return *p;
}

}  // namespace

int num_threads() { return pool().threads(); }

void set_num_threads(int n) {
  n = std::max(1, std::min(n, 256));
  if (n != pool().threads()) pool().resize(n - 1);
}

void parallel_for(long n, const std::function<void(long, long, int)>& fn) { pool().run(n, fn); }

}  // namespace matn
