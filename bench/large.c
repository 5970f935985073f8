/* large — random sizes between min and max (64 KiB .. 8 MiB) in a small ring of live blocks: each
 * step frees the oldest and allocates a new one, touching one byte per page, so a mapping that is
 * reused costs no page faults and a fresh one does.
 *
 *   large min=65536 max=8388608 workset=16 steps=4000 */
#include "bench_common.h"

int main(int argc, char **argv)
{
    size_t lo = (size_t)bench_arg(argc, argv, "min", 65536);
    size_t hi = (size_t)bench_arg(argc, argv, "max", 8 << 20);
    long workset = bench_arg(argc, argv, "workset", 16);
    long steps = bench_arg(argc, argv, "steps", 4000);
    uint64_t rng = 12345;
    char **ring = calloc((size_t)workset, sizeof *ring);
    double t0 = bench_now();
    for (long i = 0; i < steps; i++) {
        long k = i % workset;
        free(ring[k]);
        size_t n = lo + (size_t)(bench_rand(&rng) % (hi - lo + 1));
        char *p = malloc(n);
        for (size_t off = 0; off < n; off += 4096)
            p[off] = (char)i;
        ring[k] = p;
    }
    double t = bench_now() - t0;
    for (long k = 0; k < workset; k++)
        free(ring[k]);
    free(ring);
    printf(
        "large min=%zu max=%zu workset=%ld ops=%ld seconds=%.3f ops_per_sec=%.0f peak_rss_kb=%ld\n",
        lo, hi, workset, 2 * steps, t, 2.0 * (double)steps / t, peak_rss_kb());
    return 0;
}
