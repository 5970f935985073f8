/* hardened.c — the hardened build's public entry points: every block framed by canaries, zeroed
 * when freed and verified when reused, held in a per-thread quarantine, and (page runs, Large)
 * followed by a guard page. */
#define _GNU_SOURCE
#include "hardened.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include "diag.h"
#include "fast_path.h"
#include "hakmem.h"
#include "init.h"
#include "inner_api.h"
#include "misuse.h"
#include "segment_map.h"
#include "size_class.h"
#include "slab.h"

#define HEADER 16
#define PAGE HAK_PAGE_SIZE

struct header {
    uint64_t word; /* requested size | family << 48 | freed << 50 | log2(user offset) << 52 */
    uint64_t canary;
};

#define WORD_SIZE_MASK (((uint64_t)1 << 48) - 1)
#define WORD_FAMILY_SHIFT 48
#define WORD_FREED ((uint64_t)1 << 50)
#define WORD_OFFSET_SHIFT 52

static uint64_t secret; /* 0 until initialized */
/* The canary fill byte: its high bit is set and it is never 0xff, so text, NUL and -1 written
 * past a block always change it. */
static uint8_t fill;

/* Pages of zeros and of the fill byte: memcmp against them runs at the C library's vector
 * speed (the checks read every freed and every handed-out byte). */
static uint8_t zero_page[PAGE], fill_page[PAGE];

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;

static void quarantine_exit(void *arg);
static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);

static void init(void)
{
    uint64_t k = 0;
    if (getrandom(&k, sizeof k, GRND_NONBLOCK) != (ssize_t)sizeof k) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        k = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&k;
    }
    fill = (uint8_t)(0x80 | ((k >> 8) & 0x7e));
    memset(fill_page, fill, sizeof fill_page);
    pthread_key_create(&exit_key, quarantine_exit);
    /* After the inner allocator's handlers: in a fork child, its locks are usable again before
     * the quarantines of threads that do not exist there are handed back. */
    hak_ensure_init();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    __atomic_store_n(&secret, k | 1, __ATOMIC_RELEASE);
}

HAK_INLINE void ensure_init(void)
{
    if (HAK_UNLIKELY(__atomic_load_n(&secret, __ATOMIC_ACQUIRE) == 0))
        pthread_once(&init_once, init);
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dull;
    return x ^ (x >> 33);
}

/* Keyed by the secret and the block's address, so a header copied from elsewhere or forged
 * without the secret does not match. */
static uint64_t canary_of(const char *u, uint64_t word)
{
    return mix(secret ^ (uintptr_t)u ^ (word * 0x9e3779b97f4a7c15ull));
}

static size_t word_size(uint64_t w) { return (size_t)(w & WORD_SIZE_MASK); }
static unsigned word_family(uint64_t w) { return (unsigned)(w >> WORD_FAMILY_SHIFT) & 3; }
static size_t word_offset(uint64_t w) { return (size_t)1 << ((w >> WORD_OFFSET_SHIFT) & 63); }

static const char *const alloc_name[] = {"malloc", "new", "new[]"};
static const char *const free_name[] = {"free", "delete", "delete[]"};

/* One block as the hardened layer sees it: the inner block [b, b + usable), its user bytes at u,
 * and end, where the canary fill stops (the guard page of page runs and Large blocks follows). */
struct block {
    char *b, *u, *end;
    size_t usable;
    uint64_t word;
    int big;    /* a page run or Large block: a guard page follows it */
    int sealed; /* Large: no-access in quarantine past its first page (zeroing megabytes would
                 * cost their memory) */
};

static int is_big(const char *b) { return segment_map_kind((uintptr_t)b) < HAK_MAP_SLAB_MIN; }

static char *page_up(const char *p)
{
    return (char *)(((uintptr_t)p + PAGE - 1) & ~(uintptr_t)(PAGE - 1));
}

/* Where the canary fill before the header starts: at most a page before it (an alignment of
 * megabytes does not get megabytes of fill). */
static char *front_of(const struct block *k)
{
    char *h = k->u - HEADER;
    return h - k->b > (ptrdiff_t)PAGE ? h - PAGE : k->b;
}

/* The first byte in [from, to) that is not v (0 or the fill byte), or NULL. */
static const char *first_other(const char *from, const char *to, uint8_t v)
{
    if (to - from <= 64) { /* most canaries and small blocks: no call */
        uint64_t pattern = v * 0x0101010101010101ull;
        for (; to - from >= 8; from += 8) {
            uint64_t w;
            memcpy(&w, from, 8);
            if (w != pattern)
                break;
        }
        for (; from < to; from++)
            if ((uint8_t)*from != v)
                return from;
        return NULL;
    }
    const uint8_t *pattern = v == 0 ? zero_page : fill_page;
    while (from < to) {
        size_t n = (size_t)(to - from) < PAGE ? (size_t)(to - from) : PAGE;
        if (memcmp(from, pattern, n) != 0)
            for (size_t i = 0; i < n; i++)
                if ((uint8_t)from[i] != v)
                    return from + i;
        from += n;
    }
    return NULL;
}

static void report(enum misuse_kind kind, const char *op, const void *p, const char *b,
                   const void *caller, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void report(enum misuse_kind kind, const char *op, const void *p, const char *b,
                   const void *caller, const char *fmt, ...)
{
    char detail[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    struct misuse_site where = {"the zero-size region", -1, 0};
    if (b != NULL)
        where = inner_site(b);
    misuse_report_detail(kind, op, p, where, caller, detail);
}

/* The header before u is this block's, intact, and describes a block that fits. */
static int header_valid(const struct block *k, const char *u)
{
    const struct header *h = (const struct header *)(u - HEADER);
    return h->canary == canary_of(u, h->word) && word_offset(h->word) == (size_t)(u - k->b) &&
           word_size(h->word) < (size_t)(k->end - u);
}

static void block_geometry(struct block *k, char *b, size_t usable)
{
    unsigned kind = segment_map_kind((uintptr_t)b);
    k->b = b;
    k->usable = usable;
    k->big = kind < HAK_MAP_SLAB_MIN;
    k->sealed = kind == HAK_MAP_LARGE;
    k->end = b + usable - (k->big ? PAGE : 0);
}

/* 1 if p is the user pointer of a live hardened block (k filled in); otherwise the misuse is
 * reported and 0 returned (*realloc_answer: what realloc returns then). */
static int find_block(void *p, const char *op, const void *caller, struct block *k,
                      void **realloc_answer)
{
    size_t usable;
    char *b = inner_block_of(p, &usable);
    *realloc_answer = NULL;
    if (b == NULL) {
        *realloc_answer = inner_report_invalid(p, op, caller);
        return 0;
    }
    block_geometry(k, b, usable);
    k->u = p;
    size_t offset = (size_t)((char *)p - b);
    if (offset >= HEADER && k->u < k->end && header_valid(k, k->u)) {
        k->word = ((const struct header *)(k->u - HEADER))->word;
        return 1;
    }
    /* Not a user pointer: inside a block whose header is intact, or the header was damaged. */
    for (size_t off = HEADER; off < offset; off <<= 1)
        if (header_valid(k, b + off)) {
            report(MISUSE_INTERIOR, op, p, b, caller, "; inside the block at %p", b + off);
            errno = EINVAL;
            return 0;
        }
    report(MISUSE_UNDERFLOW, op, p, b, caller, "; the header before it does not match");
    errno = EINVAL;
    return 0;
}

/* A found block is live and its canaries are intact; otherwise reports and returns 0. */
static int check_live(const struct block *k, const char *op, const void *caller)
{
    size_t size = word_size(k->word);
    if (k->word & WORD_FREED) {
        report(MISUSE_DOUBLE_FREE, op, k->u, k->b, caller, "; %zu-byte block in quarantine", size);
        return 0;
    }
    const char *bad = first_other(front_of(k), k->u - HEADER, fill);
    if (bad != NULL) {
        report(MISUSE_UNDERFLOW, op, k->u, k->b, caller,
               "; %zu-byte block, byte at %p (%td) changed", size, (const void *)bad, bad - k->u);
        return 0;
    }
    bad = first_other(k->u + size, k->end, fill);
    if (bad != NULL) {
        report(MISUSE_OVERFLOW, op, k->u, k->b, caller,
               "; %zu-byte block, byte at %p (+%td) changed", size, (const void *)bad, bad - k->u);
        return 0;
    }
    return 1;
}

static unsigned log2_of(size_t x) { return (unsigned)__builtin_ctzl(x); }

static char *frame(char *b, size_t usable, size_t offset, size_t size, unsigned family)
{
    struct block k;
    block_geometry(&k, b, usable);
    k.u = b + offset;
    memset(front_of(&k), fill, (size_t)(k.u - HEADER - front_of(&k)));
    uint64_t word = (uint64_t)size | (uint64_t)family << WORD_FAMILY_SHIFT |
                    (uint64_t)log2_of(offset) << WORD_OFFSET_SHIFT;
    struct header *h = (struct header *)(k.u - HEADER);
    h->word = word;
    h->canary = canary_of(k.u, word);
    memset(k.u + size, fill, (size_t)(k.end - (k.u + size)));
    return k.u;
}

/* ---- the zero-size region ---------------------------------------------------------------- */

#define ZERO_REGION_BYTES ((size_t)1 << 30)
#define ZERO_REGIONS 16
static uintptr_t zero_base[ZERO_REGIONS];
static unsigned zero_regions; /* how many of zero_base were ever reserved: frees test only those */
static uint64_t zero_taken;
static pthread_mutex_t zero_lock = PTHREAD_MUTEX_INITIALIZER;

/* A distinct pointer into no-access memory: 2^26 per reserved gigabyte, reused after 16 of
 * them. */
static void *zero_take(void)
{
    uint64_t n = __atomic_fetch_add(&zero_taken, 1, __ATOMIC_RELAXED);
    uint64_t per = ZERO_REGION_BYTES / 16;
    unsigned r = (unsigned)(n / per % ZERO_REGIONS);
    uintptr_t base = __atomic_load_n(&zero_base[r], __ATOMIC_ACQUIRE);
    if (base == 0) {
        pthread_mutex_lock(&zero_lock);
        base = zero_base[r];
        if (base == 0) {
            void *m = mmap(NULL, ZERO_REGION_BYTES, PROT_NONE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (m != MAP_FAILED) {
                __atomic_store_n(&zero_base[r], base = (uintptr_t)m, __ATOMIC_RELEASE);
                __atomic_store_n(&zero_regions, r + 1, __ATOMIC_RELEASE);
            }
        }
        pthread_mutex_unlock(&zero_lock);
        if (base == 0) {
            errno = ENOMEM;
            return NULL;
        }
    }
    return (void *)(base + n % per * 16);
}

static int zero_has(const void *p)
{
    unsigned regions = __atomic_load_n(&zero_regions, __ATOMIC_ACQUIRE);
    for (unsigned r = 0; r < regions; r++) {
        uintptr_t base = __atomic_load_n(&zero_base[r], __ATOMIC_ACQUIRE);
        if (base != 0 && (uintptr_t)p - base < ZERO_REGION_BYTES)
            return 1;
    }
    return 0;
}

/* ---- allocation -------------------------------------------------------------------------- */

/* A slab block handed out must be zero past its first 16 bytes (the inner allocator's link and
 * free mark): every free zeroed it, so anything else was written after the free. */
static int verify_reused(char *b, size_t usable)
{
    const char *bad = first_other(b + HEADER, b + usable, 0);
    if (bad == NULL)
        return 1;
    report(MISUSE_WRITE_AFTER_FREE, "malloc", b + HEADER, b, NULL,
           "; byte at %p (+%td) changed after the block was freed", (const void *)bad,
           bad - (b + HEADER));
    return 0;
}

static void *alloc_big_framed(size_t need, size_t offset, size_t size, unsigned family)
{
    size_t span = (need + PAGE - 1) / PAGE * PAGE + PAGE;
    char *b = alloc_big(span, offset > PAGE ? offset : 0, 0);
    if (b == NULL)
        return NULL;
    size_t usable = inner_usable_size(b);
    if (mprotect(b + usable - PAGE, PAGE, PROT_NONE) != 0) {
        inner_free(b);
        errno = ENOMEM;
        return NULL;
    }
    return frame(b, usable, offset, size, family);
}

void *hardened_alloc(size_t size, size_t align, enum hardened_family family)
{
    ensure_init();
    if (size == 0 && align <= HEADER)
        return zero_take();
    if (size == 0)
        size = 1; /* an aligned empty block still needs its alignment */
    if (size > HAK_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    size_t offset = align > HEADER ? align : HEADER;
    size_t need = offset + size + 1; /* at least one canary byte after every block */
    if (need <= HAK_MID_MAX && offset <= PAGE) {
        /* Bounded: each round either succeeds or keeps a block that was written after free. */
        for (int round = 0; round < 64; round++) {
            char *b;
            size_t usable;
            if (offset == HEADER) { /* the class of need, as the inner allocator picks it */
                b = inner_malloc(need);
                usable = size_class_block_size(size_class_of(need));
            } else {
                b = inner_aligned_alloc(offset, need);
                if (b != NULL && (inner_block_of(b + HEADER, &usable) != b || is_big(b))) {
                    inner_free(b); /* no slab class has this alignment */
                    break;
                }
            }
            if (b == NULL)
                return NULL;
            if (verify_reused(b, usable))
                return frame(b, usable, offset, size, family);
        }
    }
    return alloc_big_framed(need, offset, size, family);
}

/* ---- free and quarantine ----------------------------------------------------------------- */

#define QUARANTINE_SLOTS 256
#define QUARANTINE_RESIDENT ((size_t)1 << 20) /* bytes of freed slab blocks held */
#define QUARANTINE_SPAN ((size_t)256 << 20)   /* address space of freed page runs and Large */

struct quarantine {
    void *slot[QUARANTINE_SLOTS];
    unsigned count;
    int registered, exited;
    size_t resident, span;
    uint64_t rng;
    struct quarantine *next, *prev; /* every thread's, under registry_lock */
};

static __thread struct quarantine quarantine __attribute__((tls_model("initial-exec")));

/* Every live thread's quarantine: the heap check counts their blocks as free, and a fork child
 * hands back those of the threads it does not have. */
static struct quarantine *registry;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

static void registry_add(struct quarantine *q)
{
    pthread_mutex_lock(&registry_lock);
    q->prev = NULL;
    q->next = registry;
    if (registry != NULL)
        registry->prev = q;
    registry = q;
    pthread_mutex_unlock(&registry_lock);
}

static void registry_remove(struct quarantine *q)
{
    pthread_mutex_lock(&registry_lock);
    if (q->prev != NULL)
        q->prev->next = q->next;
    else
        registry = q->next;
    if (q->next != NULL)
        q->next->prev = q->prev;
    pthread_mutex_unlock(&registry_lock);
}

static size_t resident_cost(const struct block *k) { return k->sealed ? PAGE : k->usable; }
static size_t span_cost(const struct block *k) { return k->sealed ? k->usable : 0; }

/* Give a quarantined block back to the inner allocator, after checking that nothing wrote to it
 * since its free (the pages of a page run or Large block past its first were no-access). */
static void release(char *u, const char *op, const void *caller, size_t *resident, size_t *span)
{
    struct block k;
    size_t usable;
    char *b;
    *resident = *span = 0;
    const struct header *h = (const struct header *)(u - HEADER);
    uint64_t word = h->word;
    /* The header was this block's when it was freed: while its keyed canary holds, the offset
     * it gives is the block's, and the inner block is found without a search. */
    if (h->canary == canary_of(u, word) && (word & WORD_FREED)) {
        b = u - word_offset(word);
        unsigned kind = segment_map_kind((uintptr_t)b);
        usable = kind >= HAK_MAP_SLAB_MIN ? slab_of_address((uintptr_t)b, kind)->block_size
                                          : inner_usable_size(b);
    } else {
        b = inner_block_of(u, &usable);
        if (b == NULL) {
            diag_print("hakmem: hardened quarantine: block %p is no longer live\n", (void *)u);
            diag_abort();
        }
    }
    block_geometry(&k, b, usable);
    k.u = u;
    *resident = resident_cost(&k);
    *span = span_cost(&k);
    if (word_size(h->word) >= (size_t)(k.end - u) || !header_valid(&k, u) ||
        !(h->word & WORD_FREED)) {
        report(MISUSE_WRITE_AFTER_FREE, op, u, b, caller,
               "; its header changed after the block was freed");
        return; /* report policy: the block stays out of use */
    }
    char *checked_to = k.sealed ? (page_up(u) < k.end ? page_up(u) : k.end) : k.end;
    const char *bad = first_other(u, checked_to, 0);
    if (bad != NULL) {
        report(MISUSE_WRITE_AFTER_FREE, op, u, b, caller,
               "; %zu-byte block, byte at %p (+%td) changed after it was freed", word_size(h->word),
               (const void *)bad, bad - u);
        return;
    }
    /* Back to read-write for the inner allocator: a sealed block past its first page, or the
     * guard page of a page run. */
    char *open_from = k.sealed ? page_up(u) : k.end;
    if (k.big && open_from < b + usable &&
        mprotect(open_from, (size_t)(b + usable - open_from), PROT_READ | PROT_WRITE) != 0)
        return; /* cannot be reused safely: keep it */
    /* From the block start on page runs and Large blocks: a later block may span this one's
     * header (slabs write their link and mark there at once). */
    memset(front_of(&k), 0, (size_t)(u - front_of(&k)));
    inner_free(b);
}

static uint64_t next_random(struct quarantine *q)
{
    if (q->rng == 0)
        q->rng = mix(secret ^ (uintptr_t)q);
    q->rng ^= q->rng << 13;
    q->rng ^= q->rng >> 7;
    q->rng ^= q->rng << 17;
    return q->rng;
}

/* op and caller: the call that made room (named in a report on the block it lets go). */
static void evict_one(struct quarantine *q, const char *op, const void *caller)
{
    unsigned i = (unsigned)(next_random(q) % q->count);
    void *u = q->slot[i];
    q->slot[i] = q->slot[--q->count];
    size_t resident, span;
    release(u, op, caller, &resident, &span);
    q->resident -= resident < q->resident ? resident : q->resident;
    q->span -= span < q->span ? span : q->span;
}

void hardened_quarantine_flush(const char *op, const void *caller)
{
    struct quarantine *q = &quarantine;
    while (q->count > 0)
        evict_one(q, op, caller);
    q->resident = q->span = 0;
}

/* The main thread's quarantine at exit: a write after free that no reuse found is found here. */
__attribute__((destructor)) static void quarantine_at_exit(void)
{
    if (__atomic_load_n(&secret, __ATOMIC_ACQUIRE) != 0)
        hardened_quarantine_flush("exit", NULL);
}

static void quarantine_exit(void *arg)
{
    (void)arg;
    hardened_quarantine_flush("thread exit", NULL);
    quarantine.exited = 1; /* frees in later destructors go back at once */
    registry_remove(&quarantine);
}

static void fork_prepare(void) { pthread_mutex_lock(&registry_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&registry_lock); }

static void fork_child(void)
{
    pthread_mutex_init(&registry_lock, NULL);
    struct quarantine *q = registry, *next;
    registry = NULL;
    for (; q != NULL; q = next) {
        next = q->next;
        if (q == &quarantine) {
            registry_add(q);
            continue;
        }
        while (q->count > 0) /* their threads are gone: their blocks go back */
            evict_one(q, "fork", NULL);
    }
}

/* Zero what the program had and put the block in quarantine: freed memory never holds the
 * program's data, and it is not reused before many other frees. */
static void retire(struct block *k, const char *op, const void *caller)
{
    struct header *h = (struct header *)(k->u - HEADER);
    uint64_t word = h->word | WORD_FREED;
    h->word = word;
    h->canary = canary_of(k->u, word);
    if (!k->sealed) {
        memset(k->u, 0, (size_t)(k->end - k->u));
    } else {
        char *first_end = page_up(k->u) < k->end ? page_up(k->u) : k->end;
        memset(k->u, 0, (size_t)(first_end - k->u));
        char *rest = page_up(k->u), *limit = k->b + k->usable;
        if (rest < limit) {
            madvise(rest, (size_t)(limit - rest), MADV_DONTNEED);
            mprotect(rest, (size_t)(limit - rest), PROT_NONE);
        }
    }
    struct quarantine *q = &quarantine;
    if (q->exited) {
        size_t resident, span;
        release(k->u, op, caller, &resident, &span);
        return;
    }
    if (!q->registered) {
        q->registered = 1;
        pthread_setspecific(exit_key, q);
        registry_add(q);
    }
    size_t resident = resident_cost(k), span = span_cost(k);
    while (q->count > 0 &&
           (q->count == QUARANTINE_SLOTS || q->resident + resident > QUARANTINE_RESIDENT ||
            q->span + span > QUARANTINE_SPAN))
        evict_one(q, op, caller);
    q->slot[q->count++] = k->u;
    q->resident += resident;
    q->span += span;
}

void hardened_free(void *p, enum hardened_family family, size_t size, const char *op,
                   const void *caller)
{
    if (p == NULL)
        return;
    ensure_init();
    if (zero_has(p)) {
        if (size != HARDENED_ANY_SIZE && size != 0)
            report(MISUSE_SIZE_MISMATCH, op, p, NULL, caller,
                   "; freed with %zu bytes, allocated with 0", size);
        return;
    }
    struct block k;
    void *ignored;
    if (!find_block(p, op, caller, &k, &ignored) || !check_live(&k, op, caller))
        return;
    unsigned had = word_family(k.word);
    if (had != (unsigned)family)
        report(MISUSE_KIND_MISMATCH, op, p, k.b, caller,
               "; %zu-byte block allocated by %s, freed by %s", word_size(k.word), alloc_name[had],
               free_name[family]);
    if (size != HARDENED_ANY_SIZE && size != word_size(k.word))
        report(MISUSE_SIZE_MISMATCH, op, p, k.b, caller,
               "; freed with %zu bytes, allocated with %zu", size, word_size(k.word));
    retire(&k, op, caller);
}

void *hardened_realloc(void *p, size_t size, const void *caller)
{
    ensure_init();
    if (p == NULL)
        return hardened_alloc(size, 0, FAMILY_MALLOC);
    if (size == 0) {
        hardened_free(p, FAMILY_MALLOC, HARDENED_ANY_SIZE, "realloc", caller);
        return NULL;
    }
    if (zero_has(p))
        return hardened_alloc(size, 0, FAMILY_MALLOC);
    if (size > HAK_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    struct block k;
    void *answer;
    if (!find_block(p, "realloc", caller, &k, &answer))
        return answer;
    if (!check_live(&k, "realloc", caller)) {
        errno = EINVAL;
        return NULL;
    }
    unsigned family = word_family(k.word);
    if (family != FAMILY_MALLOC)
        report(MISUSE_KIND_MISMATCH, "realloc", p, k.b, caller, "; %zu-byte block allocated by %s",
               word_size(k.word), alloc_name[family]);
    size_t old = word_size(k.word);
    /* In place while it fits with its canary byte and uses at least half of the block. */
    if (size < (size_t)(k.end - k.u) && size * 2 >= (size_t)(k.end - k.u)) {
        if (size > old)
            memset(k.u + old, 0, size - old);
        else
            memset(k.u + size, fill, old - size);
        struct header *h = (struct header *)(k.u - HEADER);
        uint64_t word = (h->word & ~WORD_SIZE_MASK) | size;
        h->word = word;
        h->canary = canary_of(k.u, word);
        return p;
    }
    void *q = hardened_alloc(size, 0, (enum hardened_family)family);
    if (q == NULL)
        return NULL;
    memcpy(q, p, old < size ? old : size);
    retire(&k, "realloc", caller);
    return q;
}

size_t hardened_usable_size(const void *p)
{
    ensure_init();
    if (p == NULL || zero_has(p))
        return 0;
    size_t usable;
    char *b = inner_block_of(p, &usable);
    if (b == NULL) /* foreign (ExternalGuard answers), or no block start of ours: 0 */
        return inner_usable_size(p);
    struct block k;
    block_geometry(&k, b, usable);
    k.u = (char *)p;
    if ((size_t)((char *)p - b) < HEADER || k.u >= k.end || !header_valid(&k, k.u))
        return 0;
    uint64_t word = ((const struct header *)(k.u - HEADER))->word;
    return word & WORD_FREED ? 0 : word_size(word);
}

/* ---- the public API ---------------------------------------------------------------------- */

HAK_EXPORT void *hak_malloc(size_t size) { return hardened_alloc(size, 0, FAMILY_MALLOC); }

HAK_EXPORT void hak_free(void *ptr)
{
    hardened_free(ptr, FAMILY_MALLOC, HARDENED_ANY_SIZE, "free", __builtin_return_address(0));
}

HAK_EXPORT void *hak_calloc(size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return hardened_alloc(n, 0, FAMILY_MALLOC); /* handed-out memory is always zero */
}

HAK_EXPORT void *hak_realloc(void *ptr, size_t size)
{
    return hardened_realloc(ptr, size, __builtin_return_address(0));
}

HAK_EXPORT void *hak_aligned_alloc(size_t alignment, size_t size)
{
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    return hardened_alloc(size, alignment, FAMILY_MALLOC);
}

HAK_EXPORT size_t hak_usable_size(const void *ptr) { return hardened_usable_size(ptr); }

HAK_EXPORT void hak_thread_flush(void)
{
    hardened_quarantine_flush("hak_thread_flush", __builtin_return_address(0));
    inner_thread_flush();
}

HAK_EXPORT size_t hak_collect(int give_back)
{
    hardened_quarantine_flush("hak_collect", __builtin_return_address(0));
    return inner_collect(give_back);
}

/* The program's pointers are user pointers; the inner check counts inner blocks. Each held
 * block's canaries are checked here first. */
HAK_EXPORT int hak_debug_check_quiescent(void *const *held, size_t n)
{
    ensure_init();
    hardened_quarantine_flush("hak_debug_check_quiescent", __builtin_return_address(0));
    /* Other threads are idle (the check's contract): their quarantines are read as they are. */
    size_t quarantined = 0;
    for (struct quarantine *q = registry; q != NULL; q = q->next)
        quarantined += q->count;
    void **inner = NULL;
    size_t bytes = ((n + quarantined) * sizeof(void *) + PAGE - 1) / PAGE * PAGE, m = 0;
    if (n + quarantined > 0) {
        inner = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (inner == MAP_FAILED) {
            diag_print("hakmem heap check: no memory for the held list\n");
            return 1;
        }
    }
    int errors = 0;
    for (size_t i = 0; i < n; i++) {
        char *p = held[i];
        if (zero_has(p))
            continue;
        size_t usable;
        char *b = inner_block_of(p, &usable);
        struct block k;
        if (b != NULL) {
            block_geometry(&k, b, usable);
            k.u = p;
        }
        if (b == NULL || (size_t)(p - b) < HEADER || k.u >= k.end || !header_valid(&k, p)) {
            inner[m++] = p; /* the inner check reports what it is */
            continue;
        }
        k.word = ((const struct header *)(p - HEADER))->word;
        const char *bad = first_other(front_of(&k), p - HEADER, fill);
        if (bad == NULL)
            bad = first_other(p + word_size(k.word), k.end, fill);
        if (bad != NULL || (k.word & WORD_FREED)) {
            diag_print("hakmem heap check: held block %p (%zu bytes): %s\n", (void *)p,
                       word_size(k.word), bad != NULL ? "a canary changed" : "it was freed");
            errors++;
        }
        inner[m++] = b;
    }
    /* A quarantined block is free to the program and live to the inner allocator. */
    for (struct quarantine *q = registry; q != NULL; q = q->next)
        for (unsigned i = 0; i < q->count; i++) {
            char *u = q->slot[i];
            size_t usable;
            char *b = inner_block_of(u, &usable);
            if (b == NULL) {
                diag_print("hakmem heap check: quarantined block %p is not live\n", (void *)u);
                errors++;
                continue;
            }
            struct block k;
            block_geometry(&k, b, usable);
            if (!header_valid(&k, u) ||
                !(((const struct header *)(u - HEADER))->word & WORD_FREED)) {
                diag_print("hakmem heap check: quarantined block %p: its header changed\n",
                           (void *)u);
                errors++;
            }
            inner[m++] = b;
        }
    errors += inner_check_quiescent(inner, m);
    if (inner != NULL)
        munmap(inner, bytes);
    return errors;
}
