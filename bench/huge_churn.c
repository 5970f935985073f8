/* huge_churn — a few live huge blocks replaced at random: each step frees one of `workset` live
 * blocks and allocates a new one of min..max bytes (5..25 MiB), which the program fills with
 * zeros (what C++ `new char[n]()` does), so every byte of every block is written once. What it
 * measures is how an allocator reuses and returns huge mappings: page faults, zeroing, munmap.
 *
 *   huge_churn min=5242880 max=26214400 workset=20 steps=2000 */
#include "bench_common.h"

/* Called through a volatile pointer: the compiler would otherwise turn malloc + memset(0) into
 * calloc, which an allocator serves from fresh zero pages without writing them. */
static void *(*volatile zero_fill)(void *, int, size_t) = memset;

int main(int argc, char **argv)
{
    size_t lo = (size_t)bench_arg(argc, argv, "min", 5 << 20);
    size_t hi = (size_t)bench_arg(argc, argv, "max", 25 << 20);
    long workset = bench_arg(argc, argv, "workset", 20);
    long steps = bench_arg(argc, argv, "steps", 2000);
    uint64_t rng = 0x2545F4914F6CDD1Dull;
    char **live = calloc((size_t)workset, sizeof *live);
    double t0 = bench_now();
    for (long i = 0; i < steps; i++) {
        long k = (long)(bench_rand(&rng) % (uint64_t)workset);
        free(live[k]);
        size_t n = lo + (size_t)(bench_rand(&rng) % (hi - lo + 1));
        char *p = malloc(n);
        zero_fill(p, 0, n);
        live[k] = p;
    }
    double t = bench_now() - t0;
    for (long k = 0; k < workset; k++)
        free(live[k]);
    free(live);
    printf("huge_churn min=%zu max=%zu workset=%ld ops=%ld seconds=%.3f ops_per_sec=%.0f "
           "peak_rss_kb=%ld\n",
           lo, hi, workset, 2 * steps, t, 2.0 * (double)steps / t, peak_rss_kb());
    return 0;
}
