/* check.c — a heap check's violation reports and its list of the program's held blocks. */
#include "check.h"

#include <stdarg.h>
#include <stdio.h>

#include "diag.h"

void hk_check_fail(struct check *c, const char *fmt, ...)
{
    if (++c->errors > CHECK_REPORT_LIMIT)
        return;
    char line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    hk_diag_print("hakmem heap check: %s\n", line);
}

int hk_check_has_held_list(const struct check *c) { return c->has_held; }

int hk_check_held(struct check *c, uintptr_t a)
{
    if (!c->has_held)
        return 1;
    size_t lo = 0, hi = c->nheld;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->held[mid] < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->nheld && c->held[lo] == a) {
        c->held_found[lo] = 1;
        return 1;
    }
    return 0;
}
