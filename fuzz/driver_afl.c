/* driver_afl.c — AFL++ persistent-mode driver with shared-memory test cases over the op-sequence
 * interpreter (build/afl/afl_ops). Built with afl-clang-fast, which defines the __AFL_* macros. */
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "interpreter.h"

__AFL_FUZZ_INIT();

int main(void)
{
    interp_setup();
    /* The fork server starts here: no worker thread exists yet (they would not survive a fork). */
#ifdef __AFL_HAVE_MANUAL_CONTROL
    __AFL_INIT();
#endif
    const uint8_t *buf = __AFL_FUZZ_TESTCASE_BUF;
    while (__AFL_LOOP(10000)) {
        size_t len = (size_t)__AFL_FUZZ_TESTCASE_LEN;
        interp_run(buf, len, 0);
    }
    return 0;
}
