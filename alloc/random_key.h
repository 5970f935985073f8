/* random_key.h — the per-process random keys (free mark, free-list links, hardened canaries).
 *
 * Owns: where key material comes from. Promises: never allocates, never blocks (getrandom
 * without waiting; when it cannot answer, as early in boot, words mixed from the clock and an
 * address). Must never: be called on a fast path (one system call per call). */
#ifndef HAK_RANDOM_KEY_H
#define HAK_RANDOM_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

HAK_HIDDEN void hk_random_key_words(uint64_t *out, size_t n);

#endif
