// Heap allocation counting for benchmarks: alloc_counter.cc replaces the
// global operator new (every form) with one that counts calls, so a benchmark
// can report allocations per message (which must be 0 on the hot path).
#ifndef SIPMAN_BENCH_ALLOC_COUNTER_H_
#define SIPMAN_BENCH_ALLOC_COUNTER_H_

#include <cstdint>

namespace sipman {
namespace bench {

// Number of global operator new calls since program start, over all threads.
uint64_t AllocationCount();

}  // namespace bench

// Benchmarks anywhere in namespace sipman may call it unqualified.
using bench::AllocationCount;

}  // namespace sipman

#endif  // SIPMAN_BENCH_ALLOC_COUNTER_H_
