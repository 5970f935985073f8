/* use_core.c — built with `pkg-config --cflags --libs hakmem-core`: the hak_* API beside libc's
 * malloc. Fails unless hakmem's own counters saw its allocations. */
#include <hakmem.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    char *p = hak_malloc(100);
    strcpy(p, "hakmem-core");
    hak_free(p);
    struct hak_stats s;
    hak_stats(&s);
    if (s.allocs < 1 || s.frees < 1 || strcmp(hak_version(), HAKMEM_VERSION_STRING) != 0) {
        fprintf(stderr, "use_core: allocs %llu frees %llu version %s\n",
                (unsigned long long)s.allocs, (unsigned long long)s.frees, hak_version());
        return 1;
    }
    printf("use_core: hakmem %s, %llu allocs\n", hak_version(), (unsigned long long)s.allocs);
    return 0;
}
