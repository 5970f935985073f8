/* driver_libfuzzer.c — libFuzzer entry points over the op-sequence interpreter
 * (build/fuzz/fuzz_ops). */
#include <stddef.h>
#include <stdint.h>

#include "interpreter.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
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
