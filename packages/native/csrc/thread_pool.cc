#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace matn {
namespace {

/** What the pool did since the last reset (PoolStats in thread_pool.h). */
std::atomic<long> stat_calls{0}, stat_chunks{0}, stat_caller_chunks{0}, stat_wait_ns{0};

long now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int threads_from_env() {
  const char* s = std::getenv("MAT_NATIVE_THREADS");
  int n = s ? std::atoi(s) : 1;
  return std::max(1, std::min(n, 256));
}

/** One parallel_for call. Heap-allocated and shared, so a worker that wakes late only finds no chunks left. */
struct Job {
  const std::function<void(long, long, int)>* fn;
  long n, chunk, chunks;
  std::atomic<long> next{0};
  std::atomic<long> done{0};
  std::mutex mu;
  std::condition_variable finished;

  /** Takes and runs chunks until none are left. */
  void work(int participant) {
    for (;;) {
      const long c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks) return;
      const long begin = c * chunk, end = std::min(n, begin + chunk);
      (*fn)(begin, end, participant);
      if (participant == 0) stat_caller_chunks.fetch_add(1, std::memory_order_relaxed);
      if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) {
        std::lock_guard<std::mutex> lock(mu);
        finished.notify_all();
      }
    }
  }
};

class Pool {
 public:
  ~Pool() { resize(0); }

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int extra) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    stop_ = false;
    for (int i = 0; i < extra; ++i) workers_.emplace_back([this, i] { loop(i + 1); });
  }

  void run(long n, const std::function<void(long, long, int)>& fn) {
    if (n <= 0) return;
    if (threads() == 1 || in_worker_ || n == 1) {
      fn(0, n, 0);
      return;
    }
    // About 16 chunks per thread: a worker that shares its core with another process (or wakes late) holds
    // up the end of the call by at most one small chunk.
    auto job = std::make_shared<Job>();
    job->fn = &fn;
    job->n = n;
    job->chunk = std::max(1L, (n + 16L * threads() - 1) / (16L * threads()));
    job->chunks = (n + job->chunk - 1) / job->chunk;
    stat_calls.fetch_add(1, std::memory_order_relaxed);
    stat_chunks.fetch_add(job->chunks, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = job;
      ++generation_;
    }
    wake_.notify_all();
    in_worker_ = true;
    job->work(0);
    in_worker_ = false;
    const long t0 = now_ns();
    if (job->done.load(std::memory_order_acquire) != job->chunks) {
      std::unique_lock<std::mutex> lock(job->mu);
      job->finished.wait(lock, [&] { return job->done.load(std::memory_order_acquire) == job->chunks; });
    }
    stat_wait_ns.fetch_add(now_ns() - t0, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(mu_);
    if (job_ == job) job_.reset();
  }

 private:
  void loop(int participant) {
    in_worker_ = true;
    unsigned long seen = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen = generation_;
    }
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        job = job_;
      }
      if (job) job->work(participant);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::shared_ptr<Job> job_;
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

PoolStats take_pool_stats() {
  PoolStats s;
  s.calls = stat_calls.exchange(0);
  s.chunks = stat_chunks.exchange(0);
  s.caller_chunks = stat_caller_chunks.exchange(0);
  s.caller_wait_ns = stat_wait_ns.exchange(0);
  return s;
}

}  // namespace matn
