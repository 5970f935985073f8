/* fixed_size — one size, a ring of `workset` live blocks: each step frees the oldest block and
 * allocates a new one (the thread cache's best case, and the fast path's cost). */
#include "bench_common.h"

int main(int argc, char **argv)
{
    size_t size = (size_t)bench_arg(argc, argv, "size", 64);
    long workset = bench_arg(argc, argv, "workset", 128);
    long steps = bench_arg(argc, argv, "steps", 20000000);
    void **ring = calloc((size_t)workset, sizeof *ring);
    for (long i = 0; i < workset; i++)
        ring[i] = malloc(size);
    double t0 = bench_now();
    for (long i = 0; i < steps; i++) {
        long k = i % workset;
        free(ring[k]);
        char *p = malloc(size);
        p[0] = (char)i;
        ring[k] = p;
    }
    double t = bench_now() - t0;
    for (long i = 0; i < workset; i++)
        free(ring[i]);
    free(ring);
    printf(
        "fixed_size size=%zu workset=%ld ops=%ld seconds=%.3f ops_per_sec=%.0f peak_rss_kb=%ld\n",
        size, workset, 2 * steps, t, 2.0 * (double)steps / t, peak_rss_kb());
    return 0;
}
