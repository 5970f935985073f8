/* driver_libfuzzer.c — libFuzzer entry points over the op-sequence interpreter
 * (build/fuzz/fuzz_ops). */
#include <stddef.h>
#include <stdint.h>

#include "interpreter.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
const char *__asan_default_options(void);

/* ASan's defaults for this binary (ASAN_OPTIONS still overrides them). hakmem's blocks do not go
 * through ASan's allocator (hakmem poisons them itself), so its quarantine only holds the
 * interpreter's and libFuzzer's own freed memory: without it the process stays small, and the
 * fork op, which copies the page tables of everything resident, stays cheap. Leaks of libFuzzer's
 * own bookkeeping are not the allocator's business: hakmem's heap check accounts for its own. */
const char *__asan_default_options(void)
{
    return "abort_on_error=1:detect_leaks=0:allocator_may_return_null=1:quarantine_size_mb=0";
}
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    interp_setup();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    interp_run(data, size, 0);
    return 0;
}
