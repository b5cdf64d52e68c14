// A tiny persistent thread pool. The calling (JS) thread always takes part, so 1 thread means no workers.
#pragma once
#include <functional>

namespace matn {

/** Number of threads used by parallel_for (>= 1). Default: env MAT_NATIVE_THREADS, else 1. */
int num_threads();
void set_num_threads(int n);

/**
 * Runs fn(begin, end, participant) over chunks covering [0, n); returns when all are done. Chunks are handed
 * out dynamically (an atomic counter), so when a worker is slow to get a core on a busy machine the calling
 * thread simply takes more chunks instead of waiting for it. Which thread runs a chunk is therefore not
 * fixed: every output must depend only on its chunk (reductions use fixed bands, see conv/reduce), which
 * keeps results identical for any thread count. `participant` (0 = caller) is for per-thread scratch only.
 * Nested calls from inside fn run serially.
 */
void parallel_for(long n, const std::function<void(long, long, int)>& fn);

/** Parallel calls since the last take (with more than one thread): how the work was shared. */
struct PoolStats {
  long calls = 0;
  long chunks = 0;
  /** Chunks the calling thread ran itself. */
  long caller_chunks = 0;
  /** Time the calling thread waited for the workers' last chunks, after running out of its own. */
  long caller_wait_ns = 0;
};
PoolStats take_pool_stats();

}  // namespace matn
