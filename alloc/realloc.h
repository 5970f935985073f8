/* realloc.h — realloc of any pointer.
 *
 * Owns: resizing in place (a slab block that stays at least half used, a page run that grows
 * into free pages, a Large block extended over free address space) and moving with the kept
 * prefix otherwise (the old block's bytes the program may read, up to the new size). Promises:
 * realloc of something that is no live block changes nothing and is reported like a free of it;
 * a failed move leaves the old block intact. Must never: copy more than the program may read
 * (a sanitizer's requested size) or free the old block before the new one exists. */
#ifndef HAK_REALLOC_H
#define HAK_REALLOC_H

#include "config.h"

/* realloc(ptr, size) on behalf of caller (named in diagnostics). */
HAK_HIDDEN void *hk_realloc_from(void *ptr, size_t size, const void *caller);

#endif
