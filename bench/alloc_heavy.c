/* alloc_heavy — a single-threaded program made of many small allocations, shaped like a compiler
 * or interpreter front end: per "statement" a short-lived tree of small nodes (freed whole), a
 * symbol table of strdup'ed names in a hash table that grows by realloc, strings built by
 * appending a few characters at a time with realloc, and a pool of long-lived objects of which a
 * few are replaced now and then. One op = one malloc, realloc or free.
 *
 *   alloc_heavy statements=1000000 names=16384 */
#include "bench_common.h"

struct node {
    struct node *kid[2];
    long value;
    char tag[]; /* 0..64 more bytes */
};

struct sym {
    char *name;
    long uses;
    struct sym *next;
};

static uint64_t ops, rng = 0x1234567;

static struct node *build(int depth)
{
    size_t extra = (size_t)(bench_rand(&rng) % 65);
    struct node *n = malloc(sizeof *n + extra);
    ops++;
    n->value = depth;
    if (extra)
        n->tag[0] = 'x';
    int kids = depth > 0 ? (int)(bench_rand(&rng) % 3) : 0;
    n->kid[0] = kids > 0 ? build(depth - 1) : NULL;
    n->kid[1] = kids > 1 ? build(depth - 1) : NULL;
    return n;
}

static long drop(struct node *n)
{
    if (n == NULL)
        return 0;
    long v = n->value + drop(n->kid[0]) + drop(n->kid[1]);
    free(n);
    ops++;
    return v;
}

int main(int argc, char **argv)
{
    long statements = bench_arg(argc, argv, "statements", 1000000);
    /* Distinct names: a table that stays in cache, so the run is mostly allocation. */
    long names = bench_arg(argc, argv, "names", 16384);
    if (names < 1)
        names = 1;
    size_t nbuckets = 64, nsyms = 0;
    struct sym **buckets = calloc(nbuckets, sizeof *buckets);
    enum { POOL = 8192 };
    void **pool = calloc(POOL, sizeof *pool);
    long checksum = 0;
    double t0 = bench_now();
    for (long s = 0; s < statements; s++) {
        /* A statement's tree, freed at once. */
        checksum += drop(build(2 + (int)(bench_rand(&rng) % 5)));

        /* A name: looked up, added when new (the table doubles by realloc). */
        char name[24];
        int len = snprintf(name, sizeof name, "id%llu",
                           (unsigned long long)(bench_rand(&rng) % (uint64_t)names));
        uint64_t h = 1469598103934665603ull;
        for (int i = 0; i < len; i++)
            h = (h ^ (uint8_t)name[i]) * 1099511628211ull;
        struct sym *e = buckets[h % nbuckets];
        while (e != NULL && strcmp(e->name, name) != 0)
            e = e->next;
        if (e == NULL) {
            e = malloc(sizeof *e);
            e->name = strdup(name);
            e->uses = 0;
            e->next = buckets[h % nbuckets];
            buckets[h % nbuckets] = e;
            ops += 2;
            if (++nsyms > nbuckets) { /* rehash into a table twice the size */
                size_t old = nbuckets;
                nbuckets *= 2;
                buckets = realloc(buckets, nbuckets * sizeof *buckets);
                ops++;
                memset(buckets + old, 0, old * sizeof *buckets);
                for (size_t b = 0; b < old; b++) {
                    struct sym *chain = buckets[b], *keep = NULL;
                    while (chain != NULL) {
                        struct sym *next = chain->next;
                        uint64_t g = 1469598103934665603ull;
                        for (const char *c = chain->name; *c; c++)
                            g = (g ^ (uint8_t)*c) * 1099511628211ull;
                        struct sym **into = g % nbuckets == b ? &keep : &buckets[g % nbuckets];
                        chain->next = *into;
                        *into = chain;
                        chain = next;
                    }
                    buckets[b] = keep;
                }
            }
        }
        e->uses++;

        /* A string built piece by piece (every append reallocs to the exact length). */
        if (s % 4 == 0) {
            char *str = NULL;
            size_t slen = 0;
            int pieces = 4 + (int)(bench_rand(&rng) % 29);
            for (int p = 0; p < pieces; p++) {
                size_t add = 1 + (size_t)(bench_rand(&rng) % 12);
                str = realloc(str, slen + add + 1);
                ops++;
                memset(str + slen, 'a' + p % 26, add);
                slen += add;
                str[slen] = '\0';
            }
            checksum += (long)strlen(str);
            free(str);
            ops++;
        }

        /* Long-lived objects: now and then one is replaced. */
        if (bench_rand(&rng) % 8 == 0) {
            size_t k = bench_rand(&rng) % POOL;
            free(pool[k]);
            size_t n = 16 + (size_t)(bench_rand(&rng) % 241);
            pool[k] = malloc(n);
            ((char *)pool[k])[0] = 1;
            ops += 2;
        }
    }
    double t = bench_now() - t0;
    for (size_t b = 0; b < nbuckets; b++)
        for (struct sym *e = buckets[b], *next; e != NULL; e = next) {
            next = e->next;
            free(e->name);
            free(e);
        }
    free(buckets);
    for (size_t k = 0; k < POOL; k++)
        free(pool[k]);
    free(pool);
    printf("alloc_heavy statements=%ld symbols=%zu checksum=%ld ops=%llu seconds=%.3f "
           "ops_per_sec=%.0f peak_rss_kb=%ld\n",
           statements, nsyms, checksum, (unsigned long long)ops, t, (double)ops / t, peak_rss_kb());
    return 0;
}
