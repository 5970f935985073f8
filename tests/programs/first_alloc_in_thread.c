/* Statically linked with libhakmem.a: the process's first allocation happens inside a thread
 * started by pthread_create, racing with the main thread's first allocation. Prints "ok" and the
 * number of allocations hakmem served. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hakmem.h"

static void *first(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        /* A volatile pointer, so the compiler cannot elide the malloc/free pair. */
        char *volatile p = malloc(32 + (size_t)i);
        memset(p, 1, 32);
        free(p);
    }
    return NULL;
}

int main(void)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, first, NULL);
    char *volatile p = malloc(100);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    free(p);
    struct hak_stats s;
    hak_stats(&s);
    printf("%s %llu\n", s.allocs >= 4000 ? "ok" : "not-hakmem", (unsigned long long)s.allocs);
    return s.allocs >= 4000 ? 0 : 1;
}
