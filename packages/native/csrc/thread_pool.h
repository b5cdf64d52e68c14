// A tiny persistent thread pool. The calling (JS) thread always takes part, so 1 thread means no workers.
#pragma once
#include <functional>

namespace matn {

/** Number of threads used by parallel_for (>= 1). Default: env MAT_NATIVE_THREADS, else 1. */
int num_threads();
void set_num_threads(int n);

/**
 * Splits [0, n) into num_threads() contiguous chunks (as equal as possible) and runs
 * fn(begin, end, thread_index) for each non-empty chunk; returns when all are done.
 * Calls must not be nested (an inner parallel_for from a worker runs serially).
 */
void parallel_for(long n, const std::function<void(long, long, int)>& fn);

}  // namespace matn
