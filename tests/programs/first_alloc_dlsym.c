/* Run under LD_PRELOAD: dlopen/dlsym allocate before main's first malloc; the allocator must
 * already be usable there, and blocks from either side are interchangeable. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    void *h = dlopen("libm.so.6", RTLD_NOW);
    if (!h)
        return 2;
    double (*cosine)(double) = (double (*)(double))dlsym(h, "cos");
    const char *err = dlerror();
    if (err != NULL || cosine == NULL)
        return 3;
    char *s = strdup("hakmem");
    s = realloc(s, 4096);
    strcat(s, "-dlsym");
    printf("%s %.3f\n", s, cosine(0.0));
    free(s);
    dlclose(h);
    return 0;
}
