/* diag.h — one-line diagnostics on stderr.
 *
 * Owns: formatting and writing allocator messages, and naming a code address. Promises: never
 * allocates (formats into a stack buffer, one write(2) per line), so it is safe inside malloc and
 * free. Must never: be used on a fast path. */
#ifndef HAK_DIAG_H
#define HAK_DIAG_H

#include <stddef.h>

#include "config.h"

HAK_HIDDEN void hk_diag_print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "module(symbol+0xoff)" or "module+0xoff" for a code address, into buf. */
HAK_HIDDEN const char *hk_diag_name_address(const void *addr, char *buf, size_t len);

/* abort(), after writing the coverage profile in the cov build (an abort skips the exit handler
 * that would write it, and a report that ends the process is a path the tests must be seen to
 * take). */
HAK_HIDDEN _Noreturn void hk_diag_abort(void);

/* " class N (B-byte blocks)" into buf. */
HAK_HIDDEN void hk_diag_name_class(char *buf, size_t len, int cls, size_t block_size);

/* Internal consistency assertions: checked in the checking builds (HAK_DEBUG), free elsewhere. */
#ifdef HAK_DEBUG
HAK_HIDDEN __attribute__((noreturn)) void hk_assert_fail(const char *expr, const char *file,
                                                         int line);
#define HAK_ASSERT(cond) ((cond) ? (void)0 : hk_assert_fail(#cond, __FILE__, __LINE__))
#else
#define HAK_ASSERT(cond) ((void)0)
#endif

#endif
