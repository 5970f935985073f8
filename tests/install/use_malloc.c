/* use_malloc.c — built with `pkg-config --cflags --libs hakmem`: its malloc is hakmem's (the
 * install check reads the HAKMEM_STATS=json report it leaves). Exits with status 3 on purpose,
 * so the check can see that the program's own exit status survives the report. */
#include <hakmem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    void *blocks[1000];
    for (int i = 0; i < 1000; i++) {
        blocks[i] = malloc((size_t)(16 + i % 900));
        memset(blocks[i], 1, 16);
    }
    for (int i = 0; i < 1000; i++)
        free(blocks[i]);
    printf("use_malloc: hakmem %s\n", hak_version());
    return 3;
}
