/* memcheck_case BUG — one bug on hakmem memory, for Valgrind's memcheck to catch (valgrind
 * variant): "read-after-free" reads a freed hak_malloc block; "leak" drops the only pointer to
 * one; "clean" does everything right. */
#include <stdio.h>
#include <string.h>

#include "hakmem.h"

static void *volatile sink;

int main(int argc, char **argv)
{
    const char *bug = argc > 1 ? argv[1] : "clean";
    char *p = hak_malloc(64);
    memset(p, 'x', 64);
    if (!strcmp(bug, "read-after-free")) {
        hak_free(p);
        printf("%d\n", p[8]); /* invalid read */
    } else if (!strcmp(bug, "leak")) {
        sink = hak_malloc(100); /* then forgotten */
        sink = NULL;
        hak_free(p);
    } else {
        p = hak_realloc(p, 5000);
        printf("%c\n", p[63]);
        hak_free(p);
    }
    return 0;
}
