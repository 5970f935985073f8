/* page_run_layout.h — the layout of a page-run segment: its header and per-page run table.
 *
 * Owns: where a page-run segment keeps its arena, free-page count, list links and the mark of
 * every page. Promises: the first and last page of every run (free or used) carry its length and
 * state; pages inside a run carry none. Must never: be written outside page_run.c (the heap
 * check's damage tests excepted, which break it on purpose). */
#ifndef HAK_PAGE_RUN_LAYOUT_H
#define HAK_PAGE_RUN_LAYOUT_H

#include <stdint.h>

#include "config.h"

#define RUN_SEGMENT_PAGES (HAK_SEGMENT_SIZE >> HAK_PAGE_SHIFT)
enum { RUN_NONE = 0, RUN_FREE = 1, RUN_USED = 2 };

struct run_page {
    struct run_page *next, *prev; /* free-run bin links, valid at a free run's first page */
    uint32_t len;                 /* run length in pages, valid at first and last page */
    uint8_t head;                 /* RUN_* if this page starts a run */
    uint8_t tail;                 /* RUN_* if this page ends a run */
    uint8_t freed;                /* a run starting here was freed (tells double free apart) */
};

struct run_segment {
    uint32_t arena;
    uint32_t free_pages;
    struct run_segment *next, *prev; /* the arena's segments */
    struct run_page pages[RUN_SEGMENT_PAGES];
};

#define RUN_FIRST_PAGE ((sizeof(struct run_segment) + HAK_PAGE_SIZE - 1) >> HAK_PAGE_SHIFT)
#define RUN_USABLE_PAGES (RUN_SEGMENT_PAGES - RUN_FIRST_PAGE)

#endif
