/* random_mixed — random sizes in [min, max] (default 16..1040) in random slots of a workset,
 * fixed seed: each step frees a random slot and refills it. */
#include "bench_common.h"

int main(int argc, char **argv)
{
    size_t lo = (size_t)bench_arg(argc, argv, "min", 16);
    size_t hi = (size_t)bench_arg(argc, argv, "max", 1040);
    long workset = bench_arg(argc, argv, "workset", 1024);
    long steps = bench_arg(argc, argv, "steps", 10000000);
    uint64_t rng = (uint64_t)bench_arg(argc, argv, "seed", 4141) | 1;
    void **slots = calloc((size_t)workset, sizeof *slots);
    double t0 = bench_now();
    for (long i = 0; i < steps; i++) {
        uint64_t r = bench_rand(&rng);
        long k = (long)(r % (uint64_t)workset);
        free(slots[k]);
        size_t n = lo + (size_t)((r >> 32) % (hi - lo + 1));
        char *p = malloc(n);
        p[0] = (char)i;
        slots[k] = p;
    }
    double t = bench_now() - t0;
    for (long i = 0; i < workset; i++)
        free(slots[i]);
    free(slots);
    printf("random_mixed min=%zu max=%zu workset=%ld ops=%ld seconds=%.3f ops_per_sec=%.0f "
           "peak_rss_kb=%ld\n",
           lo, hi, workset, 2 * steps, t, 2.0 * (double)steps / t, peak_rss_kb());
    return 0;
}
