/* Built against the installed hakmem-hardened: writes one byte past a 24-byte block and frees
 * it. The hardened library must end it with its one-line report and abort(). */
#include <stdlib.h>

int main(int argc, char **argv)
{
    (void)argv;
    size_t n = 23 + (size_t)argc; /* 24, unknown to the compiler, which would drop the store */
    char *p = malloc(n);
    ((volatile char *)p)[n] = 'A';
    free(p);
    return 0; /* reached only if the overflow went unnoticed */
}
