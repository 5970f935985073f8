/* diag.c — stack-buffered stderr lines and dladdr-based address naming. */
#define _GNU_SOURCE
#include "diag.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void hk_diag_print(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    ssize_t w = write(2, line, len);
    (void)w;
}

const char *hk_diag_name_address(const void *addr, char *buf, size_t len)
{
    Dl_info info;
    if (addr != NULL && dladdr(addr, &info) != 0 && info.dli_fname != NULL) {
        const char *mod = strrchr(info.dli_fname, '/');
        mod = mod ? mod + 1 : info.dli_fname;
        if (info.dli_sname != NULL)
            snprintf(buf, len, "%s(%s+%#lx)", mod, info.dli_sname,
                     (unsigned long)((const char *)addr - (const char *)info.dli_saddr));
        else
            snprintf(buf, len, "%s+%#lx", mod,
                     (unsigned long)((const char *)addr - (const char *)info.dli_fbase));
    } else if (addr != NULL) {
        snprintf(buf, len, "%p", addr);
    } else {
        snprintf(buf, len, "(unknown)");
    }
    return buf;
}

void hk_diag_name_class(char *buf, size_t len, int cls, size_t block_size)
{
    snprintf(buf, len, " class %d (%zu-byte blocks)", cls, block_size);
}

#ifdef HAK_COVERAGE
int __llvm_profile_write_file(void) __attribute__((weak));
#endif

void hk_diag_abort(void)
{
#ifdef HAK_COVERAGE
    if (__llvm_profile_write_file != NULL)
        __llvm_profile_write_file();
#endif
    abort();
}

#ifdef HAK_DEBUG
void hk_assert_fail(const char *expr, const char *file, int line)
{
    hk_diag_print("hakmem: internal assertion failed: %s (%s:%d)\n", expr, file, line);
    hk_diag_abort();
}
#endif
