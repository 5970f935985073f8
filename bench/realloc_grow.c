/* realloc_grow — chains of blocks grown by realloc from 16 bytes to `max` in steps of about 1.5x
 * (the pattern of growing strings and vectors), then shrunk back and freed, in a ring of chains.
 * One op is one malloc, realloc or free.
 *
 *   realloc_grow max=1048576 chains=16 rounds=2000 */
#include "bench_common.h"

int main(int argc, char **argv)
{
    size_t max = (size_t)bench_arg(argc, argv, "max", 1 << 20);
    long chains = bench_arg(argc, argv, "chains", 16);
    long rounds = bench_arg(argc, argv, "rounds", 2000);
    char **held = calloc((size_t)chains, sizeof *held);
    uint64_t ops = 0;
    double t0 = bench_now();
    for (long r = 0; r < rounds; r++) {
        long k = r % chains;
        free(held[k]);
        ops++;
        size_t n = 16;
        char *p = malloc(n);
        ops++;
        p[0] = 1;
        while (n < max) {
            n = n + n / 2 + 16;
            p = realloc(p, n);
            p[n - 1] = (char)n;
            ops++;
        }
        while (n > 64) {
            n /= 3;
            p = realloc(p, n);
            p[n - 1] = 2;
            ops++;
        }
        held[k] = p;
    }
    double t = bench_now() - t0;
    for (long k = 0; k < chains; k++)
        free(held[k]);
    free(held);
    printf("realloc_grow max=%zu chains=%ld rounds=%ld ops=%llu seconds=%.3f ops_per_sec=%.0f "
           "peak_rss_kb=%ld\n",
           max, chains, rounds, (unsigned long long)ops, t, (double)ops / t, peak_rss_kb());
    return 0;
}
