/* refalloc.c — the reference allocator: a small, deliberately plain malloc that the suite is
 * proven on. Built clean it must pass everything the suite runs (make check-allocator); built
 * with one of its switchable bugs (-DREFALLOC_BUG_<NAME>), each a realistic one-line mistake of a
 * kind real allocators shipped, the suite must find it. A bug the suite misses is a hole in the
 * suite, not in this file.
 *
 * Design. Sizes up to 32 KiB go to 40 size classes (16-byte steps to 128, then 4 classes per
 * doubling), the same classes as fuzz/ops_format.c's ops_class_size. Blocks come from 64 KiB
 * spans, mapped 64 KiB-aligned so that a block's span header is found by masking its address;
 * each span belongs to one thread heap. A thread keeps a bounded free list per class in its heap
 * (its cache; the heap pointer is its only TLS); a cache over its bound returns half to the owning
 * spans' free lists. A free by another thread is pushed onto the span's lock-free remote list
 * (compare-and-swap, release/acquire), which the owner takes back when its cache, the spans' free
 * lists and their never-used blocks are all empty. A thread's heap is orphaned at its exit (a
 * pthread key destructor flushes its cache first) and adopted whole by the next new thread.
 * Blocks over 32 KiB, and blocks aligned to more than 16, get their own 64 KiB-aligned mapping
 * with a header just before the block (the mapping and its length); a mapping's first word marks
 * it large, and a block on a 64 KiB boundary is always large. One global mutex guards only the
 * orphan list and the span reserve; pthread_atfork takes it across fork. No call reaches the libc
 * malloc family, so it runs loaded with dlopen(RTLD_LOCAL) or as a whole program's malloc
 * (LD_PRELOAD); it initializes itself at the first allocation. A span whose blocks are all home
 * again waits on an idle list for any heap and class (past 16 MiB of them, with its pages given
 * back by madvise); spans are never unmapped.
 * Behaviour is glibc's: malloc(0) is a unique block, realloc(p, 0) frees p and returns NULL, every
 * block is 16-byte aligned, failures are NULL with ENOMEM and a failed realloc keeps its block.
 *
 * Bugs (-DREFALLOC_BUG_<NAME>; each site is marked "BUG <NAME>"):
 *   CLASS_EDGE_OFF_BY_ONE   size class's quarter taken from size, not size - 1: a request of
 *                           exactly 256, 512, ... 32768 gets a smaller block (usable < asked)
 *   REALLOC_SHORT_COPY      realloc to a larger class copies usable - 1 bytes: the last byte of
 *                           a block filled to its class size is lost
 *   REALLOC_COPY_NEW_SIZE   realloc copies the new size: reads past the old block (a fault
 *                           when a large block grows into an unmapped neighbour)
 *   CALLOC_NO_ZERO          calloc trusts blocks above a page to be fresh from mmap: a recycled
 *                           4 KiB..32 KiB block comes back dirty
 *   CALLOC_NO_OVERFLOW      calloc(count, size) multiplies without checking: a wrapped product
 *                           gives a tiny block instead of NULL/ENOMEM
 *   REALLOCARRAY_NO_OVERFLOW  the same in reallocarray
 *   ALIGN_THRESHOLD_OFF_BY_ONE  alignments up to 128 KiB (not 64 KiB) trusted to the mapping's
 *                           own alignment: a 128 KiB alignment is met only half the time
 *   REMOTE_PUSH_NOT_ATOMIC  remote free is a load then a store, not a CAS loop: a racing push or
 *                           drain loses a block, or leaves it both drained and queued (handed
 *                           out twice)
 *   REMOTE_DRAIN_STRANDS    the drain links only the first block of the remote list: the rest
 *                           are lost (memory grows while remote frees go on)
 *   ORPHAN_NEVER_ADOPTED    the thread key has no destructor: an exited thread's heap (and its
 *                           cached blocks) is never orphaned nor adopted (growth per thread)
 *   NO_ATFORK               no pthread_atfork handler: a fork while another thread holds the
 *                           global lock leaves the child's lock held (it hangs at its next span)
 *   REALLOC_FAIL_FREES_OLD  a failed realloc frees the old block (the caller still owns it)
 *   MMAP_FAIL_NO_ENOMEM     errno restored on every return, failures too: NULL with errno as it
 *                           was before the call, not ENOMEM
 *   USABLE_SIZE_ALIGNED_WRONG  malloc_usable_size of a large block assumes the plain header
 *                           offset: overstated by up to the alignment for aligned blocks
 *   CACHE_OVERFLOW_KEEPS_BLOCKS  a cache overflow returns half to the spans but never unlinks
 *                           them from the cache: blocks are handed out twice
 *   LARGE_FREE_WRONG_LENGTH free of a large block unmaps its length rounded to 64 KiB, not to
 *                           the page: up to 60 KiB of whatever is mapped after it goes too
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#pragma GCC visibility push(hidden)

#define API __attribute__((visibility("default")))

#define SPAN_SIZE ((size_t)64 << 10)
#define PAGE ((size_t)4096)
#define SMALL_MAX ((size_t)32 << 10)
#define NCLASSES 40
#define SPAN_HEADER 64   /* the first block of a span starts here */
#define LARGE_OFFSET 64  /* a plain large block starts here in its mapping */
#define LARGE_HEADER 32  /* struct large, just before a large block */
#define HEAP_STRIDE 1024 /* heaps are carved from a span at this stride */
#define RESERVE_SPANS 4  /* spans mapped at once */
#define CACHE_BYTES ((size_t)128 << 10)
#define IDLE_KEEP 256     /* idle spans kept with their pages (16 MiB) */
#define MAGIC 0x52454641u /* "REFA" */

enum { KIND_SPAN = 1, KIND_LARGE = 2, KIND_HEAPS = 3 };

/* The first word of every mapping. */
struct region {
    uint32_t magic, kind;
};

struct block {
    struct block *next;
};

struct heap;

struct span {
    struct region r;
    uint32_t cls, block_size;
    struct heap *owner;             /* set once, before any block is handed out */
    struct span *next;              /* the owner's spans of this class */
    struct block *free;             /* owner only */
    uint32_t bump, end;             /* never-used blocks: offsets [bump, end), owner only */
    _Atomic(struct block *) remote; /* blocks freed by other threads */
    uint32_t nfree, capacity;       /* blocks on `free` or never used, of all; owner only */
};
_Static_assert(sizeof(struct span) <= SPAN_HEADER, "span header fits");

struct cache {
    struct block *head;
    uint32_t count;
};

struct heap {
    struct cache cache[NCLASSES];
    struct span *spans[NCLASSES];
    struct heap *next_orphan;
};
_Static_assert(sizeof(struct heap) <= HEAP_STRIDE, "heap fits its stride");

struct large {
    char *base;
    size_t maplen;
    uint32_t magic, kind;
    uint64_t pad;
};
_Static_assert(sizeof(struct large) == LARGE_HEADER, "large header size");

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static struct heap *orphans;             /* global_lock */
static char *reserve_next, *reserve_end; /* global_lock: spans mapped, not yet handed out */
static struct span *idle_spans;          /* global_lock: emptied spans */
static unsigned idle_count;          /* global_lock: how many; past IDLE_KEEP, pages given back */
static char *heaps_next, *heaps_end; /* global_lock: room for new heaps */
static pthread_key_t heap_key;
static _Atomic int init_state; /* 0: not yet, 1: running, 2: done */

static __thread struct heap *tls_heap __attribute__((tls_model("initial-exec")));
static __thread int tls_initializing __attribute__((tls_model("initial-exec")));

/* ---- helpers ---- */

static inline uintptr_t align_up(uintptr_t x, size_t a)
{
    return (x + a - 1) & ~(uintptr_t)(a - 1);
}

static inline struct region *region_of(const void *p)
{
    return (struct region *)((uintptr_t)p & ~(uintptr_t)(SPAN_SIZE - 1));
}

static inline int is_large(const void *p)
{
    return ((uintptr_t)p & (SPAN_SIZE - 1)) == 0 || region_of(p)->kind == KIND_LARGE;
}

static inline struct large *large_of(const void *p)
{
    return (struct large *)((uintptr_t)p - LARGE_HEADER);
}

static size_t class_size(unsigned cls)
{
    if (cls < 8)
        return 16 * (cls + 1);
    unsigned k = cls - 8;
    size_t base = (size_t)128 << (k / 4);
    return base + (base / 4) * (k % 4 + 1);
}

/* The smallest class holding `size` (<= SMALL_MAX). Class 8 + 4j + q holds sizes up to
 * 2^(7+j) * (1 + (q+1)/4): for s = size - 1 with 2^lg <= s < 2^(lg+1), q is the two bits of s
 * below its top bit. */
static unsigned size_class(size_t size)
{
    if (size <= 128)
        return size == 0 ? 0 : (unsigned)((size - 1) >> 4);
    size_t s = size - 1;
    unsigned lg = 63u - (unsigned)__builtin_clzll(s);
#ifdef REFALLOC_BUG_CLASS_EDGE_OFF_BY_ONE
    unsigned q = (unsigned)(size >> (lg - 2)) & 3; /* BUG CLASS_EDGE_OFF_BY_ONE */
#else
    unsigned q = (unsigned)(s >> (lg - 2)) & 3;
#endif
    return 8 + (lg - 7) * 4 + q;
}

static unsigned cache_limit(unsigned cls)
{
    size_t n = CACHE_BYTES / class_size(cls);
    return n < 4 ? 4 : n > 64 ? 64 : (unsigned)n;
}

/* ---- the OS ---- */

/* `len` bytes (a multiple of the page), aligned to SPAN_SIZE; NULL with ENOMEM. */
static void *os_map(size_t len)
{
    size_t over = len + SPAN_SIZE - PAGE;
    if (over < len) {
        errno = ENOMEM;
        return NULL;
    }
    char *m = mmap(NULL, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        errno = ENOMEM; /* whatever the kernel said (EAGAIN, EINVAL for a huge length) */
        return NULL;
    }
    char *a = (char *)align_up((uintptr_t)m, SPAN_SIZE);
    size_t head = (size_t)(a - m), tail = over - head - len;
    /* A failed trim (out of mapping slots) only wastes address space; errno is put back by the
     * entry points on success. */
    if (head != 0)
        munmap(m, head);
    if (tail != 0)
        munmap(a + len, tail);
    return a;
}

/* A SPAN_SIZE chunk: an idle span, or one from the reserve. Under global_lock. */
static char *reserve_take(void)
{
    if (idle_spans != NULL) {
        struct span *s = idle_spans;
        idle_spans = s->next;
        idle_count--;
        return (char *)s;
    }
    if (reserve_next == reserve_end) {
        char *m = os_map(RESERVE_SPANS * SPAN_SIZE);
        if (m == NULL)
            return NULL;
        reserve_next = m;
        reserve_end = m + RESERVE_SPANS * SPAN_SIZE;
    }
    char *s = reserve_next;
    reserve_next += SPAN_SIZE;
    return s;
}

/* ---- initialization, threads, fork ---- */

static void heap_flush(struct heap *h);

/* The key's destructor: the exiting thread's heap goes to the orphan list, its cache emptied. */
static void thread_exit(void *arg)
{
    struct heap *h = arg;
    heap_flush(h);
    tls_heap = NULL;
    pthread_mutex_lock(&global_lock);
    h->next_orphan = orphans;
    orphans = h;
    pthread_mutex_unlock(&global_lock);
}

static void atfork_prepare(void) { pthread_mutex_lock(&global_lock); }
static void atfork_parent(void) { pthread_mutex_unlock(&global_lock); }
static void atfork_child(void) { pthread_mutex_init(&global_lock, NULL); }

/* Once per process. pthread_atfork may itself allocate (through us, under LD_PRELOAD): the key is
 * made first, and the initializing thread's own calls go on without waiting for itself. */
static void global_init(void)
{
    if (atomic_load_explicit(&init_state, memory_order_acquire) == 2 || tls_initializing)
        return;
    int expected = 0;
    if (atomic_compare_exchange_strong(&init_state, &expected, 1)) {
        tls_initializing = 1;
#ifdef REFALLOC_BUG_ORPHAN_NEVER_ADOPTED
        pthread_key_create(&heap_key, NULL), (void)thread_exit; /* BUG ORPHAN_NEVER_ADOPTED */
#else
        pthread_key_create(&heap_key, thread_exit);
#endif
#ifndef REFALLOC_BUG_NO_ATFORK
        pthread_atfork(atfork_prepare, atfork_parent, atfork_child); /* BUG NO_ATFORK: missing */
#else
        (void)atfork_prepare, (void)atfork_parent, (void)atfork_child;
#endif
        tls_initializing = 0;
        atomic_store_explicit(&init_state, 2, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&init_state, memory_order_acquire) != 2)
        sched_yield();
}

/* The calling thread's heap: its own, an orphan, or a new one; NULL with ENOMEM. */
static struct heap *heap_get(void)
{
    struct heap *h = tls_heap;
    if (h != NULL)
        return h;
    global_init();
    if (tls_heap != NULL)
        return tls_heap; /* made by an allocation inside global_init */
    pthread_mutex_lock(&global_lock);
    h = orphans;
    if (h != NULL) {
        orphans = h->next_orphan;
    } else {
        if (heaps_next == heaps_end) {
            char *chunk = reserve_take();
            if (chunk != NULL) {
                *(struct region *)chunk = (struct region){MAGIC, KIND_HEAPS};
                heaps_next = chunk + HEAP_STRIDE;
                heaps_end = chunk + SPAN_SIZE;
            }
        }
        if (heaps_next != heaps_end) {
            h = (struct heap *)heaps_next;
            heaps_next += HEAP_STRIDE;
            memset(h, 0, sizeof *h); /* the chunk may be an idle span, not a new mapping */
        }
    }
    pthread_mutex_unlock(&global_lock);
    if (h == NULL)
        return NULL;
    h->next_orphan = NULL;
    tls_heap = h; /* before the key: its setting may allocate */
    pthread_setspecific(heap_key, h);
    return h;
}

/* ---- spans ---- */

static struct span *span_new(struct heap *h, unsigned cls)
{
    pthread_mutex_lock(&global_lock);
    struct span *s = (struct span *)reserve_take();
    pthread_mutex_unlock(&global_lock);
    if (s == NULL)
        return NULL;
    uint32_t bs = (uint32_t)class_size(cls);
    s->r = (struct region){MAGIC, KIND_SPAN};
    s->cls = cls;
    s->block_size = bs;
    s->owner = h;
    s->free = NULL;
    s->capacity = s->nfree = (uint32_t)((SPAN_SIZE - SPAN_HEADER) / bs);
    s->bump = SPAN_HEADER;
    s->end = SPAN_HEADER + s->capacity * bs;
    atomic_init(&s->remote, NULL);
    s->next = h->spans[cls];
    h->spans[cls] = s;
    return s;
}

/* An empty span (every block home: none in a cache, none out, none queued remotely) leaves its
 * heap for the idle list, where any heap may take it for any class; past IDLE_KEEP idle spans,
 * its pages but the header's are given back. The first span of a class stays with its heap, and
 * the idle spans kept whole, so that memory used up and freed again is not faulted in anew. */
static void span_release_if_empty(struct heap *h, struct span *s)
{
    if (s->nfree != s->capacity || h->spans[s->cls] == s)
        return;
    struct span **link = &h->spans[s->cls];
    while (*link != s)
        link = &(*link)->next;
    *link = s->next;
    pthread_mutex_lock(&global_lock);
    int keep = idle_count < IDLE_KEEP;
    pthread_mutex_unlock(&global_lock);
    if (!keep)
        madvise((char *)s + PAGE, SPAN_SIZE - PAGE, MADV_DONTNEED);
    pthread_mutex_lock(&global_lock);
    s->next = idle_spans;
    idle_spans = s;
    idle_count++;
    pthread_mutex_unlock(&global_lock);
}

/* Another thread's free: onto the span's remote list. */
static void remote_push(struct span *s, struct block *b)
{
    struct block *old = atomic_load_explicit(&s->remote, memory_order_relaxed);
#ifdef REFALLOC_BUG_REMOTE_PUSH_NOT_ATOMIC
    b->next = old,
    atomic_store_explicit(&s->remote, b, memory_order_relaxed); /* BUG REMOTE_PUSH_NOT_ATOMIC */
#else
    do
        b->next = old;
    while (!atomic_compare_exchange_weak_explicit(&s->remote, &old, b, memory_order_release,
                                                  memory_order_relaxed));
#endif
}

/* The owner takes back what other threads freed into the span (to allocate from it at once). */
static void span_drain(struct span *s)
{
    struct block *b = atomic_exchange_explicit(&s->remote, NULL, memory_order_acquire);
    if (b == NULL)
        return;
    struct block *tail = b;
    uint32_t n = 1;
#ifndef REFALLOC_BUG_REMOTE_DRAIN_STRANDS
    while (tail->next != NULL) /* BUG REMOTE_DRAIN_STRANDS: this walk missing */
        tail = tail->next, n++;
#endif
    tail->next = s->free;
    s->free = b;
    s->nfree += n;
}

/* ---- the thread cache ---- */

/* Move up to `want` blocks from the heap's spans of class `cls` into its cache. */
static unsigned take_from_spans(struct heap *h, unsigned cls, unsigned want)
{
    struct cache *c = &h->cache[cls];
    unsigned got = 0;
    for (struct span *s = h->spans[cls]; s != NULL && got < want; s = s->next) {
        while (got < want && s->free != NULL) {
            struct block *b = s->free;
            s->free = b->next;
            b->next = c->head;
            c->head = b;
            s->nfree--;
            got++;
        }
        while (got < want && s->bump < s->end) {
            struct block *b = (struct block *)((char *)s + s->bump);
            s->bump += s->block_size;
            s->nfree--;
            b->next = c->head;
            c->head = b;
            got++;
        }
    }
    c->count += got;
    return got;
}

static int cache_refill(struct heap *h, unsigned cls)
{
    unsigned want = cache_limit(cls) / 2;
    if (take_from_spans(h, cls, want) != 0)
        return 1;
    /* Cache and spans empty: take back what other threads freed, then a new span. */
    for (struct span *s = h->spans[cls]; s != NULL; s = s->next)
        span_drain(s);
    if (take_from_spans(h, cls, want) != 0)
        return 1;
    if (span_new(h, cls) == NULL)
        return 0;
    return take_from_spans(h, cls, want) != 0;
}

/* The first n cached blocks of class `cls` back to their spans' free lists. */
static void cache_return(struct heap *h, unsigned cls, unsigned n)
{
    struct cache *c = &h->cache[cls];
    struct block *b = c->head;
    for (unsigned i = 0; i < n && b != NULL; i++) {
        struct block *next = b->next;
        struct span *s = (struct span *)region_of(b);
        b->next = s->free;
        s->free = b;
        s->nfree++;
        span_release_if_empty(h, s);
        b = next;
    }
#ifndef REFALLOC_BUG_CACHE_OVERFLOW_KEEPS_BLOCKS
    c->head = b; /* BUG CACHE_OVERFLOW_KEEPS_BLOCKS: this unlink missing */
#endif
    c->count -= n;
}

static void heap_flush(struct heap *h)
{
    for (unsigned cls = 0; cls < NCLASSES; cls++)
        cache_return(h, cls, h->cache[cls].count);
}

static void *small_alloc(size_t size)
{
    struct heap *h = heap_get();
    if (h == NULL)
        return NULL;
    unsigned cls = size_class(size);
    struct cache *c = &h->cache[cls];
    if (c->head == NULL && !cache_refill(h, cls))
        return NULL;
    struct block *b = c->head;
    c->head = b->next;
    c->count--;
    return b;
}

static void small_free(void *p)
{
    struct span *s = (struct span *)region_of(p);
    struct heap *h = tls_heap;
    if (s->owner != h) {
        remote_push(s, p);
        return;
    }
    struct cache *c = &h->cache[s->cls];
    struct block *b = p;
    b->next = c->head;
    c->head = b;
    if (++c->count > cache_limit(s->cls))
        cache_return(h, s->cls, c->count / 2);
}

/* ---- large and aligned blocks ---- */

/* A block of its own mapping, aligned to `align` (a power of two >= 16). */
static void *large_alloc(size_t size, size_t align)
{
    if (size > SIZE_MAX / 4 || align > SIZE_MAX / 4) {
        errno = ENOMEM;
        return NULL;
    }
#ifdef REFALLOC_BUG_ALIGN_THRESHOLD_OFF_BY_ONE
    int mapping_aligned = align <= 2 * SPAN_SIZE; /* BUG ALIGN_THRESHOLD_OFF_BY_ONE */
#else
    int mapping_aligned = align <= SPAN_SIZE; /* the mapping's own alignment is enough */
#endif
    size_t off = !mapping_aligned ? 0 : align < LARGE_OFFSET ? LARGE_OFFSET : align;
    size_t maplen = align_up(mapping_aligned ? off + size : LARGE_OFFSET + align + size, PAGE);
    char *base = os_map(maplen);
    if (base == NULL)
        return NULL;
    char *p =
        mapping_aligned ? base + off : (char *)align_up((uintptr_t)base + LARGE_OFFSET, align);
    *(struct region *)base = (struct region){MAGIC, KIND_LARGE};
    struct large *l = large_of(p);
    l->base = base;
    l->maplen = maplen;
    l->magic = MAGIC;
    l->kind = KIND_LARGE;
    return p;
}

static size_t large_usable(const void *p)
{
    const struct large *l = large_of(p);
#ifdef REFALLOC_BUG_USABLE_SIZE_ALIGNED_WRONG
    return l->maplen - LARGE_OFFSET; /* BUG USABLE_SIZE_ALIGNED_WRONG */
#else
    return (size_t)(l->base + l->maplen - (const char *)p);
#endif
}

static void large_free(void *p)
{
    struct large *l = large_of(p);
#ifdef REFALLOC_BUG_LARGE_FREE_WRONG_LENGTH
    munmap(l->base, align_up(l->maplen, SPAN_SIZE)); /* BUG LARGE_FREE_WRONG_LENGTH */
#else
    munmap(l->base, l->maplen);
#endif
}

/* ---- the malloc family ---- */

static void *malloc_impl(size_t size)
{
    return size <= SMALL_MAX ? small_alloc(size) : large_alloc(size, 16);
}

static void free_impl(void *p)
{
    if (p == NULL)
        return;
    if (is_large(p))
        large_free(p);
    else
        small_free(p);
}

static size_t usable_impl(const void *p)
{
    if (p == NULL)
        return 0;
    if (is_large(p))
        return large_usable(p);
    return ((const struct span *)region_of(p))->block_size;
}

static void *aligned_impl(size_t align, size_t size)
{
    return align <= 16 ? malloc_impl(size) : large_alloc(size, align);
}

static void *realloc_impl(void *p, size_t size)
{
    if (p == NULL)
        return malloc_impl(size);
    if (size == 0) {
        free_impl(p);
        return NULL;
    }
    size_t old = usable_impl(p);
    if (size <= old && (!is_large(p) || size > SMALL_MAX))
        return p; /* fits where it is (a large block shrunk to a small size moves) */
    void *q = malloc_impl(size);
    if (q == NULL) {
#ifdef REFALLOC_BUG_REALLOC_FAIL_FREES_OLD
        free_impl(p); /* BUG REALLOC_FAIL_FREES_OLD */
#endif
        return NULL;
    }
#if defined(REFALLOC_BUG_REALLOC_SHORT_COPY)
    memcpy(q, p, old < size ? old - 1 : size); /* BUG REALLOC_SHORT_COPY */
#elif defined(REFALLOC_BUG_REALLOC_COPY_NEW_SIZE)
    memcpy(q, p, size); /* BUG REALLOC_COPY_NEW_SIZE */
#else
    memcpy(q, p, old < size ? old : size);
#endif
    free_impl(p);
    return q;
}

/* A successful call leaves errno as it found it (os_map's trims may fail harmlessly); a failure
 * leaves ENOMEM. */
static inline void *keep_errno(void *p, int saved)
{
#ifndef REFALLOC_BUG_MMAP_FAIL_NO_ENOMEM
    if (p != NULL) /* BUG MMAP_FAIL_NO_ENOMEM: this test missing */
#endif
        errno = saved;
    return p;
}

API void *malloc(size_t size)
{
    int saved = errno;
    return keep_errno(malloc_impl(size), saved);
}

API void free(void *p)
{
    int saved = errno;
    free_impl(p);
    errno = saved;
}

API void *calloc(size_t count, size_t size)
{
    int saved = errno;
    size_t total;
#ifdef REFALLOC_BUG_CALLOC_NO_OVERFLOW
    total = count * size; /* BUG CALLOC_NO_OVERFLOW */
#else
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
#endif
    void *p = malloc_impl(total);
#ifdef REFALLOC_BUG_CALLOC_NO_ZERO
    if (p != NULL && total <= PAGE) /* BUG CALLOC_NO_ZERO */
#else
    if (p != NULL && total <= SMALL_MAX) /* a large block is a new mapping: zero already */
#endif
        memset(p, 0, total);
    return keep_errno(p, saved);
}

API void *realloc(void *p, size_t size)
{
    int saved = errno;
    void *q = realloc_impl(p, size);
    if (q == NULL && size == 0 && p != NULL) {
        errno = saved; /* freed, as asked */
        return NULL;
    }
    return keep_errno(q, saved);
}

API void *reallocarray(void *p, size_t count, size_t size)
{
    int saved = errno;
    size_t total;
#ifdef REFALLOC_BUG_REALLOCARRAY_NO_OVERFLOW
    total = count * size; /* BUG REALLOCARRAY_NO_OVERFLOW */
#else
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
#endif
    void *q = realloc_impl(p, total);
    if (q == NULL && total == 0 && p != NULL) {
        errno = saved;
        return NULL;
    }
    return keep_errno(q, saved);
}

API int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    int saved = errno;
    void *p = aligned_impl(align, size);
    errno = saved;
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

API void *aligned_alloc(size_t align, size_t size)
{
    if (align == 0 || (align & (align - 1)) != 0) {
        errno = EINVAL; /* glibc 2.38: only powers of two; any size */
        return NULL;
    }
    int saved = errno;
    return keep_errno(aligned_impl(align, size), saved);
}

API void *memalign(size_t align, size_t size)
{
    if (align > SIZE_MAX / 4) {
        errno = EINVAL;
        return NULL;
    }
    size_t a = 16;
    while (a < align) /* glibc rounds an alignment up to a power of two */
        a *= 2;
    int saved = errno;
    return keep_errno(aligned_impl(a, size), saved);
}

API void *valloc(size_t size)
{
    int saved = errno;
    return keep_errno(aligned_impl(PAGE, size), saved);
}

API size_t malloc_usable_size(void *p) { return usable_impl(p); }
