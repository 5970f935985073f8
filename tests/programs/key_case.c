/* key_case — prints this process's per-process keys once hakmem is initialized: the free-block
 * key, and two fresh words of key material. A test runs it twice: the keys must differ. */
#include <inttypes.h>
#include <stdio.h>

#include "free_mark.h"
#include "hakmem.h"
#include "random_key.h"

int main(void)
{
    hak_free(hak_malloc(16));
    uint64_t w[2];
    hk_random_key_words(w, 2);
    printf("%016" PRIx64 " %016" PRIx64 " %016" PRIx64 "\n", hk_free_key, w[0], w[1]);
    return 0;
}
