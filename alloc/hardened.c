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

#include "api.h"
#include "diag.h"
#include "fast_path.h"
#include "hakmem.h"
#include "init.h"
#include "large.h"
#include "list.h"
#include "misuse.h"
#include "page_run.h"
#include "random_key.h"
#include "segment_map.h"
#include "size_class.h"
#include "slab.h"
#include "verdict.h"

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

static uint64_t secret;   /* 0 until initialized */
static uint64_t secret_b; /* the keyed hash's second key word */
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

static int exit_key_ok;

static void init(void)
{
    uint64_t k[3];
    hk_random_key_words(k, 3);
    fill = (uint8_t)(0x80 | (k[2] & 0x7e)); /* bits the keys do not share */
    memset(fill_page, fill, sizeof fill_page);
    exit_key_ok = pthread_key_create(&exit_key, quarantine_exit) == 0;
    secret_b = k[1];
    /* Published before anything that may allocate (the fork handlers' registration may): a
     * malloc from in here proceeds instead of waiting for this once-only call. */
    __atomic_store_n(&secret, k[0] | 1, __ATOMIC_RELEASE);
    /* After the inner allocator's handlers: in a fork child its locks are usable again first. */
    hak_ensure_init();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
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

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND(v0, v1, v2, v3)                                                                  \
    do {                                                                                           \
        v0 += v1, v1 = ROTL(v1, 13), v1 ^= v0, v0 = ROTL(v0, 32);                                  \
        v2 += v3, v3 = ROTL(v3, 16), v3 ^= v2;                                                     \
        v0 += v3, v3 = ROTL(v3, 21), v3 ^= v0;                                                     \
        v2 += v1, v1 = ROTL(v1, 17), v1 ^= v2, v2 = ROTL(v2, 32);                                  \
    } while (0)

/* SipHash (one round per word, two to finish) of the block's address and header word under the
 * per-process 128-bit key: a header copied from elsewhere, or forged by someone who read other
 * headers, does not match (a plain mixing function could be inverted from one canary to give
 * the key away). The input is always two words, so no length block. */
static uint64_t canary_of(const char *u, uint64_t word)
{
    uint64_t v0 = secret ^ 0x736f6d6570736575ull, v1 = secret_b ^ 0x646f72616e646f6dull;
    uint64_t v2 = secret ^ 0x6c7967656e657261ull, v3 = secret_b ^ 0x7465646279746573ull;
    uint64_t m0 = (uintptr_t)u, m1 = word;
    v3 ^= m0;
    SIP_ROUND(v0, v1, v2, v3);
    v0 ^= m0;
    v3 ^= m1;
    SIP_ROUND(v0, v1, v2, v3);
    v0 ^= m1;
    v2 ^= 0xff;
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
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
        where = hk_verdict_site(b);
    hk_misuse_report_detail(kind, op, p, where, caller, detail);
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

/* The user pointer of block k: the first offset (16, or a power of two: an alignment) no more
 * than `limit` bytes in at which an intact header sits. Ascending, so that no header past the
 * block's own is read (a freed Large block is no-access past its first page of user bytes). */
static char *user_of(const struct block *k, size_t limit)
{
    for (size_t off = HEADER; off <= limit && k->b + off < k->end; off <<= 1)
        if (header_valid(k, k->b + off))
            return k->b + off;
    return NULL;
}

/* What a pointer that starts no hardened block is: the verdict on the block it would follow by
 * 16 bytes if that block was freed, else the verdict on the pointer itself; foreign pointers go
 * to ExternalGuard (realloc's answer is returned). */
static void *report_invalid(void *p, const char *op, const void *caller)
{
    int is_realloc = op[0] == 'r';
    uintptr_t a = (uintptr_t)p;
    unsigned kind = segment_map_kind(a);
    void *before = (char *)p - 16;
    int verdict = MISUSE_NOT_ALLOCATED;
    struct misuse_site where = hk_verdict_idle_site;
    if (kind >= HAK_MAP_SLAB_MIN) {
        struct slab *s = slab_of_address(a, kind);
        where = verdict_slab_site(s);
        uintptr_t start = (uintptr_t)slab_start(s);
        verdict = a >= start + 16 ? verdict_slab(s, before) : MISUSE_NOT_ALLOCATED;
        if (verdict != MISUSE_DOUBLE_FREE && (verdict = verdict_slab(s, p)) < 0)
            verdict = MISUSE_INTERIOR;
    } else if (kind == HAK_MAP_PAGE_RUN) {
        where = hk_verdict_page_run_site;
        verdict = (a & (HAK_PAGE_SIZE - 1)) == 16 ? hk_page_run_classify(before) : -1;
        if (verdict != MISUSE_DOUBLE_FREE && (verdict = hk_page_run_classify(p)) < 0)
            verdict = MISUSE_INTERIOR;
    } else if (kind == HAK_MAP_LARGE) {
        where = hk_verdict_large_site;
        verdict = (a & (HAK_PAGE_SIZE - 1)) == 16 ? hk_large_classify(before) : -1;
        if (verdict != MISUSE_DOUBLE_FREE)
            verdict = hk_large_usable(p) != 0 ? MISUSE_INTERIOR : hk_large_classify(p);
        if (verdict < 0)
            return is_realloc ? hk_realloc_foreign(p, caller) : (hk_free_foreign(p, caller), NULL);
    } else if (kind == HAK_MAP_IDLE) {
        verdict = hk_verdict_idle(before);
        if (verdict != MISUSE_DOUBLE_FREE)
            verdict = hk_verdict_idle(p);
    } else {
        return is_realloc ? hk_realloc_foreign(p, caller) : (hk_free_foreign(p, caller), NULL);
    }
    hk_misuse_report((enum misuse_kind)verdict, op, p, where, caller);
    errno = EINVAL;
    return NULL;
}

/* 1 if p is the user pointer of a live hardened block (k filled in); otherwise the misuse is
 * reported and 0 returned (*realloc_answer: what realloc returns then). */
static int find_block(void *p, const char *op, const void *caller, struct block *k,
                      void **realloc_answer)
{
    size_t usable;
    char *b = hk_verdict_block_of(p, &usable);
    *realloc_answer = NULL;
    if (b == NULL) {
        *realloc_answer = report_invalid(p, op, caller);
        return 0;
    }
    block_geometry(k, b, usable);
    size_t offset = (size_t)((char *)p - b);
    char *u = user_of(k, offset);
    if (u == (char *)p) {
        k->u = u;
        k->word = ((const struct header *)(u - HEADER))->word;
        return 1;
    }
    /* Not a user pointer: inside a block whose header is intact, or the header was damaged. */
    if (u == NULL && offset < HEADER)
        u = user_of(k, k->sealed ? PAGE : usable); /* p is before the user bytes */
    if (u != NULL)
        report(MISUSE_INTERIOR, op, p, b, caller, "; inside the %sblock at %p",
               ((const struct header *)(u - HEADER))->word & WORD_FREED ? "freed " : "", (void *)u);
    else
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
    char *b = hk_alloc_big(span, offset > PAGE ? offset : 0, 0);
    if (b == NULL)
        return NULL;
    size_t usable = hk_inner_usable_size(b);
    /* A page run comes back zero: every free zeroed it and the quarantine checked it. Large
     * blocks are fresh or purged mappings (their freed pages were discarded and no-access). */
    const char *bad =
        segment_map_kind((uintptr_t)b) == HAK_MAP_PAGE_RUN ? first_other(b, b + usable, 0) : NULL;
    if (bad != NULL) {
        report(MISUSE_WRITE_AFTER_FREE, "malloc", b + HEADER, b, NULL,
               "; byte at %p (+%td) of a freed page run changed before its reuse",
               (const void *)bad, bad - b);
        return alloc_big_framed(need, offset, size, family); /* report policy: kept out */
    }
    if (mprotect(b + usable - PAGE, PAGE, PROT_NONE) != 0) {
        hk_inner_free(b);
        errno = ENOMEM;
        return NULL;
    }
    return frame(b, usable, offset, size, family);
}

void *hk_hardened_alloc(size_t size, size_t align, enum hardened_family family)
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
                b = hk_inner_malloc(need);
                usable = size_class_block_size(size_class_of(need));
            } else {
                b = hk_inner_aligned_alloc(offset, need);
                if (b != NULL && (hk_verdict_block_of(b + HEADER, &usable) != b || is_big(b))) {
                    hk_inner_free(b); /* no slab class has this alignment */
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
/* What one thread's quarantine holds at most: bytes of freed slab blocks, bytes of freed page
 * runs, and address space of freed (no-access) Large blocks. A block bigger than its budget goes
 * back at once: it must not empty the quarantine of everything else. */
#define QUARANTINE_SLAB_BYTES ((size_t)1 << 20)
#define QUARANTINE_RUN_BYTES ((size_t)4 << 20)
#define QUARANTINE_SPAN ((size_t)256 << 20)

enum { COST_SLAB, COST_RUN, COST_SPAN, COSTS };
static const size_t budget[COSTS] = {QUARANTINE_SLAB_BYTES, QUARANTINE_RUN_BYTES, QUARANTINE_SPAN};

/* Records live in memory of their own, not in the thread's storage: a thread that frees after
 * its destructors ran (its record is then never handed back) leaves a record that stays valid,
 * listed with its blocks, instead of a dangling one. */
struct quarantine {
    void *slot[QUARANTINE_SLOTS];
    unsigned count; /* published after the slot it covers (a fork child may read it) */
    size_t held[COSTS];
    uint64_t rng;
    struct quarantine *next, *prev; /* the registry (or the spare list), under registry_lock */
};

static __thread struct quarantine *my_quarantine __attribute__((tls_model("initial-exec")));
static __thread int my_thread_exited __attribute__((tls_model("initial-exec")));

/* Every thread's quarantine: the heap check counts their blocks as free. */
static struct quarantine *registry, *spare;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

#define RECORDS_PER_CHUNK 16

/* The calling thread's quarantine, made on its first free; NULL after its exit destructor ran
 * or when no memory is left for a record (its frees then go back at once). */
static struct quarantine *quarantine_get(void)
{
    struct quarantine *q = my_quarantine;
    if (HAK_LIKELY(q != NULL) || my_thread_exited)
        return q;
    pthread_mutex_lock(&registry_lock);
    if (spare == NULL) {
        struct quarantine *chunk = mmap(NULL, RECORDS_PER_CHUNK * sizeof *chunk,
                                        PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (chunk != MAP_FAILED)
            for (int i = 0; i < RECORDS_PER_CHUNK; i++) {
                chunk[i].next = spare;
                spare = &chunk[i];
            }
    }
    q = spare;
    if (q != NULL) {
        spare = q->next;
        memset(q, 0, sizeof *q);
        LIST_PUSH(&registry, q, next, prev);
    }
    pthread_mutex_unlock(&registry_lock);
    my_quarantine = q;
    if (q != NULL && exit_key_ok)
        pthread_setspecific(exit_key, q); /* may allocate: after the lock */
    return q;
}

/* Which budget a block is charged to, and how much. */
static unsigned cost_kind(const struct block *k)
{
    return k->sealed ? COST_SPAN : k->big ? COST_RUN : COST_SLAB;
}

/* Give a quarantined block back to the inner allocator, after checking its header and, when
 * `scan` is set or for a Large block (the rest of which was no-access), that nothing wrote to it
 * since its free. Slab blocks and page runs are checked again when handed out, so evictions
 * leave their bytes to that check (one pass over each block fewer); flushes at exit, thread exit
 * and on request scan, for blocks that may never be handed out again. Returns its cost, and in
 * *kind its budget. */
static size_t release(char *u, const char *op, const void *caller, unsigned *kind, int scan)
{
    struct block k;
    size_t usable;
    char *b;
    const struct header *h = (const struct header *)(u - HEADER);
    uint64_t word = h->word;
    /* The header was this block's when it was freed: while its keyed canary holds, the offset
     * it gives is the block's, and the inner block is found without a search. */
    int intact = h->canary == canary_of(u, word) && (word & WORD_FREED);
    if (intact) {
        b = u - word_offset(word);
        unsigned map = segment_map_kind((uintptr_t)b);
        usable = map >= HAK_MAP_SLAB_MIN ? slab_of_address((uintptr_t)b, map)->block_size
                                         : hk_inner_usable_size(b);
    } else {
        b = hk_verdict_block_of(u, &usable);
        if (b == NULL) {
            hk_diag_print("hakmem: hardened quarantine: block %p is no longer live\n", (void *)u);
            hk_diag_abort();
        }
    }
    block_geometry(&k, b, usable);
    k.u = u;
    *kind = cost_kind(&k);
    if (!intact || word_size(word) >= (size_t)(k.end - u)) {
        report(MISUSE_WRITE_AFTER_FREE, op, u, b, caller,
               "; its header changed after the block was freed");
        return k.usable; /* report policy: the block stays out of use */
    }
    char *checked_to = k.sealed ? (page_up(u) < k.end ? page_up(u) : k.end) : k.end;
    const char *bad = scan || k.sealed ? first_other(u, checked_to, 0) : NULL;
    if (bad != NULL) {
        report(MISUSE_WRITE_AFTER_FREE, op, u, b, caller,
               "; %zu-byte block, byte at %p (+%td) changed after it was freed", word_size(h->word),
               (const void *)bad, bad - u);
        return k.usable;
    }
    /* Back to read-write for the inner allocator: a sealed block past its first page, or the
     * guard page of a page run. */
    char *open_from = k.sealed ? page_up(u) : k.end;
    if (k.big && open_from < b + usable &&
        mprotect(open_from, (size_t)(b + usable - open_from), PROT_READ | PROT_WRITE) != 0)
        return k.usable; /* cannot be reused safely: keep it */
    /* From the block start on page runs and Large blocks: a later block may span this one's
     * header (slabs write their link and mark there at once). */
    memset(front_of(&k), 0, (size_t)(u - front_of(&k)));
    hk_inner_free(b);
    return k.usable;
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
static void evict_one(struct quarantine *q, const char *op, const void *caller, int scan)
{
    unsigned i = (unsigned)(next_random(q) % q->count);
    void *u = q->slot[i];
    q->slot[i] = q->slot[q->count - 1];
    __atomic_store_n(&q->count, q->count - 1, __ATOMIC_RELEASE);
    unsigned kind;
    size_t cost = release(u, op, caller, &kind, scan);
    q->held[kind] -= cost < q->held[kind] ? cost : q->held[kind];
}

static void flush(struct quarantine *q, const char *op, const void *caller)
{
    while (q->count > 0)
        evict_one(q, op, caller, 1);
    memset(q->held, 0, sizeof q->held);
}

void hk_hardened_quarantine_flush(const char *op, const void *caller)
{
    if (my_quarantine != NULL)
        flush(my_quarantine, op, caller);
}

/* The main thread's quarantine at exit: a write after free that no reuse found is found here. */
__attribute__((destructor)) static void quarantine_at_exit(void)
{
    if (__atomic_load_n(&secret, __ATOMIC_ACQUIRE) != 0)
        hk_hardened_quarantine_flush("exit", NULL);
}

static void quarantine_exit(void *arg)
{
    struct quarantine *q = arg;
    flush(q, "thread exit", NULL);
    my_thread_exited = 1; /* frees in later destructors go back at once */
    my_quarantine = NULL;
    pthread_mutex_lock(&registry_lock);
    LIST_REMOVE(&registry, q, next, prev);
    q->next = spare;
    spare = q;
    pthread_mutex_unlock(&registry_lock);
}

static void fork_prepare(void)
{
    pthread_mutex_lock(&zero_lock);
    pthread_mutex_lock(&registry_lock);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&registry_lock);
    pthread_mutex_unlock(&zero_lock);
}

/* The other threads' quarantines stay as they were (possibly in the middle of a change): their
 * blocks are never let go in the child, and the heap check counts them as free. */
static void fork_child(void)
{
    pthread_mutex_init(&registry_lock, NULL);
    pthread_mutex_init(&zero_lock, NULL);
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
    struct quarantine *q = quarantine_get();
    unsigned kind = cost_kind(k);
    size_t cost = k->usable; /* bytes, or for a Large block its address space */
    if (q == NULL || cost > budget[kind]) {
        unsigned ignored;
        release(k->u, op, caller, &ignored, 0); /* just zeroed */
        return;
    }
    while (q->count > 0 && (q->count == QUARANTINE_SLOTS || q->held[kind] + cost > budget[kind]))
        evict_one(q, op, caller, 0);
    q->slot[q->count] = k->u;
    __atomic_store_n(&q->count, q->count + 1, __ATOMIC_RELEASE);
    q->held[kind] += cost;
}

void hk_hardened_free(void *p, enum hardened_family family, size_t size, const char *op,
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
    int saved_errno = errno; /* free leaves errno alone */
    if (!find_block(p, op, caller, &k, &ignored) || !check_live(&k, op, caller)) {
        errno = saved_errno;
        return;
    }
    unsigned had = word_family(k.word);
    if (had != (unsigned)family)
        report(MISUSE_KIND_MISMATCH, op, p, k.b, caller,
               "; %zu-byte block allocated by %s, freed by %s", word_size(k.word), alloc_name[had],
               free_name[family]);
    if (size != HARDENED_ANY_SIZE && size != word_size(k.word))
        report(MISUSE_SIZE_MISMATCH, op, p, k.b, caller,
               "; freed with %zu bytes, allocated with %zu", size, word_size(k.word));
    retire(&k, op, caller);
    errno = saved_errno;
}

void *hk_hardened_realloc(void *p, size_t size, const void *caller)
{
    ensure_init();
    if (p == NULL)
        return hk_hardened_alloc(size, 0, FAMILY_MALLOC);
    if (size == 0) {
        hk_hardened_free(p, FAMILY_MALLOC, HARDENED_ANY_SIZE, "realloc", caller);
        return NULL;
    }
    if (zero_has(p))
        return hk_hardened_alloc(size, 0, FAMILY_MALLOC);
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
    void *q = hk_hardened_alloc(size, 0, (enum hardened_family)family);
    if (q == NULL)
        return NULL;
    memcpy(q, p, old < size ? old : size);
    retire(&k, "realloc", caller);
    return q;
}

size_t hk_hardened_usable_size(const void *p)
{
    ensure_init();
    if (p == NULL || zero_has(p))
        return 0;
    size_t usable;
    char *b = hk_verdict_block_of(p, &usable);
    if (b == NULL) {
        /* Foreign memory: ExternalGuard answers. Ours (a run or Large start is never a user
         * pointer): 0. */
        unsigned map = segment_map_kind((uintptr_t)p);
        if (map == HAK_MAP_NONE ||
            (map == HAK_MAP_LARGE && hk_verdict_block_of((const char *)p + HEADER, &usable) != p))
            return hk_inner_usable_size(p);
        return 0;
    }
    struct block k;
    block_geometry(&k, b, usable);
    if (user_of(&k, (size_t)((const char *)p - b)) != p)
        return 0;
    uint64_t word = ((const struct header *)((const char *)p - HEADER))->word;
    return word & WORD_FREED ? 0 : word_size(word);
}

/* ---- the public API ---------------------------------------------------------------------- */

HAK_EXPORT void *hak_malloc(size_t size) { return hk_hardened_alloc(size, 0, FAMILY_MALLOC); }

HAK_EXPORT void hak_free(void *ptr)
{
    hk_hardened_free(ptr, FAMILY_MALLOC, HARDENED_ANY_SIZE, "free", __builtin_return_address(0));
}

HAK_EXPORT void *hak_calloc(size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return hk_hardened_alloc(n, 0, FAMILY_MALLOC); /* handed-out memory is always zero */
}

HAK_EXPORT void *hak_realloc(void *ptr, size_t size)
{
    return hk_hardened_realloc(ptr, size, __builtin_return_address(0));
}

HAK_EXPORT void *hak_aligned_alloc(size_t alignment, size_t size)
{
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    return hk_hardened_alloc(size, alignment, FAMILY_MALLOC);
}

HAK_EXPORT size_t hak_usable_size(const void *ptr) { return hk_hardened_usable_size(ptr); }

HAK_EXPORT void hak_thread_flush(void)
{
    hk_hardened_quarantine_flush("hak_thread_flush", __builtin_return_address(0));
    hk_inner_thread_flush();
}

HAK_EXPORT size_t hak_collect(int give_back)
{
    hk_hardened_quarantine_flush("hak_collect", __builtin_return_address(0));
    return hk_inner_collect(give_back);
}

/* The program's pointers are user pointers; the inner check counts inner blocks. Each held
 * block's canaries are checked here first. */
HAK_EXPORT int hak_debug_check_quiescent(void *const *held, size_t n)
{
    ensure_init();
    hk_hardened_quarantine_flush("hak_debug_check_quiescent", __builtin_return_address(0));
    /* Other threads are idle (the check's contract): their quarantines are read as they are,
     * under the registry lock so that none is made or let go meanwhile. */
    pthread_mutex_lock(&registry_lock);
    size_t quarantined = 0;
    for (struct quarantine *q = registry; q != NULL; q = q->next)
        quarantined += q->count;
    void **inner = NULL;
    size_t bytes = ((n + quarantined) * sizeof(void *) + PAGE - 1) / PAGE * PAGE, m = 0;
    if (n + quarantined > 0) {
        inner = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (inner == MAP_FAILED) {
            pthread_mutex_unlock(&registry_lock);
            hk_diag_print("hakmem heap check: no memory for the held list\n");
            return 1;
        }
    }
    int errors = 0;
    for (size_t i = 0; i < n; i++) {
        char *p = held[i];
        if (zero_has(p))
            continue;
        size_t usable;
        char *b = hk_verdict_block_of(p, &usable);
        struct block k;
        if (b != NULL) {
            block_geometry(&k, b, usable);
            k.u = p;
        }
        if (b == NULL || user_of(&k, (size_t)(p - b)) != p) {
            inner[m++] = p; /* the inner check reports what it is */
            continue;
        }
        k.word = ((const struct header *)(p - HEADER))->word;
        const char *bad = first_other(front_of(&k), p - HEADER, fill);
        if (bad == NULL)
            bad = first_other(p + word_size(k.word), k.end, fill);
        if (bad != NULL || (k.word & WORD_FREED)) {
            hk_diag_print("hakmem heap check: held block %p (%zu bytes): %s\n", (void *)p,
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
            char *b = hk_verdict_block_of(u, &usable);
            if (b == NULL) {
                hk_diag_print("hakmem heap check: quarantined block %p is not live\n", (void *)u);
                errors++;
                continue;
            }
            struct block k;
            block_geometry(&k, b, usable);
            if (!header_valid(&k, u) ||
                !(((const struct header *)(u - HEADER))->word & WORD_FREED)) {
                hk_diag_print("hakmem heap check: quarantined block %p: its header changed\n",
                              (void *)u);
                errors++;
            }
            inner[m++] = b;
        }
    pthread_mutex_unlock(&registry_lock);
    errors += hk_inner_check_quiescent(inner, m);
    if (inner != NULL)
        munmap(inner, bytes);
    return errors;
}
