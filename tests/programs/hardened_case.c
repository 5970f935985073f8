/* hardened_case — run by tests/hardened/block_framing under HAKMEM_INVALID_FREE=report: one
 * block overflows by a byte and is freed; the report is printed once, counted, and the damaged
 * block never comes back from an allocation, while the program carries on. Exit status 0 when
 * all of that held. */
#include <stdio.h>
#include <string.h>

#include "hakmem.h"

int main(void)
{
    char *p = hak_malloc(40);
    char *volatile damaged = p;
    damaged[40] = 'A';
    struct hak_stats before, after;
    hak_stats(&before);
    hak_free(p);
    hak_stats(&after);
    if (after.invalid_frees - before.invalid_frees != 1) {
        fprintf(stderr, "invalid_frees moved by %llu\n",
                (unsigned long long)(after.invalid_frees - before.invalid_frees));
        return 1;
    }
    for (int i = 0; i < 20000; i++) {
        char *q = hak_malloc(40);
        if (q == NULL || q == damaged) {
            fprintf(stderr, "allocation %d returned %p (the damaged block is %p)\n", i, (void *)q,
                    (void *)damaged);
            return 1;
        }
        memset(q, 1, 40);
        hak_free(q);
    }
    printf("the damaged block was kept out of use\n");
    return 0;
}
