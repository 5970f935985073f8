/* hakmem.c — bin/hakmem, the launcher: runs a program with libhakmem preloaded and options set.
 *
 *   hakmem [--stats[=text|json]] [--stats-file=PATH] [--guard=contain|log|abort]
 *          [--invalid-free=abort|report] [other options] [--] PROGRAM [ARGS...]
 *
 * Owns: turning flags into HAKMEM_* variables and LD_PRELOAD. Promises: every flag is a row of
 * alloc/option_table.h (the table the library reads), a flag or value it does not know is one
 * line naming what is accepted and exit status 2 with the program not started; otherwise it
 * becomes the program (exec), so the program's exit status is the launcher's. Must never: start
 * the program with an option it could not set. */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hakmem.h"
#include "option_table.h"

struct option_row {
    const char *var, *flag, *values, *def, *help;
};

#define OPTION_ROW(id, var, flag, values, def, help) {var, flag, values, def, help},
static const struct option_row rows[] = {HAK_OPTION_TABLE(OPTION_ROW)};
#define NROWS (sizeof rows / sizeof rows[0])

static void usage(FILE *f)
{
    fprintf(f,
            "usage: hakmem [OPTION...] [--] PROGRAM [ARG...]\n"
            "Runs PROGRAM with the hakmem allocator (libhakmem, %s) preloaded.\n\n"
            "options (each sets the environment variable named on its right):\n",
            HAKMEM_VERSION_STRING);
    for (size_t i = 0; i < NROWS; i++) {
        char left[64];
        if (strcmp(rows[i].flag, "stats") == 0)
            snprintf(left, sizeof left, "--stats[=text|json]");
        else
            snprintf(left, sizeof left, "--%s=%s", rows[i].flag, rows[i].values);
        fprintf(f, "  %-34s %s\n  %-34s   %s (default %s)\n", left, rows[i].var, "", rows[i].help,
                rows[i].def);
    }
    fprintf(f, "  %-34s %s\n  %-34s %s\n", "--help", "this list", "--version",
            "the version and the library that would be preloaded");
}

/* Is value one of the table's accepted values for row r? */
static int accepted(const struct option_row *r, const char *value)
{
    if (strcmp(r->values, "PATH") == 0)
        return *value != '\0';
    uint64_t v;
    if (hak_option_is_number(r->values))
        return hak_option_number(value, r->values, &v);
    return hak_option_word(value, r->values) >= 0;
}

static void list_flags(FILE *f)
{
    for (size_t i = 0; i < NROWS; i++)
        fprintf(f, "%s--%s=%s", i ? ", " : "", rows[i].flag, rows[i].values);
    fprintf(f, ", --help, --version");
}

/* The shared library next to this launcher: bin/../lib/libhakmem.so.MAJOR when installed,
 * libhakmem.so beside it in a build folder. */
static int find_library(char *out, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 0;
    self[n] = '\0';
    const char *dir = dirname(self);
    char candidate[PATH_MAX + 64];
    const char *tries[] = {"%s/../lib/libhakmem.so.%d", "%s/libhakmem.so"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(candidate, sizeof candidate, tries[i], dir, HAKMEM_VERSION_MAJOR);
        if (access(candidate, R_OK) == 0 && realpath(candidate, out) != NULL && strlen(out) < size)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strncmp(a, "--", 2) != 0)
            break; /* the program */
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            char lib[PATH_MAX];
            printf("hakmem %s (library: %s)\n", HAKMEM_VERSION_STRING,
                   find_library(lib, sizeof lib) ? lib : "not found");
            return 0;
        }
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        const struct option_row *r = NULL;
        for (size_t k = 0; k < NROWS; k++)
            if (strlen(rows[k].flag) == nlen && strncmp(rows[k].flag, a + 2, nlen) == 0)
                r = &rows[k];
        if (r == NULL) {
            fprintf(stderr, "hakmem: unknown option %s (accepted: ", a);
            list_flags(stderr);
            fprintf(stderr, ")\n");
            return 2;
        }
        /* --stats alone asks for the text report. */
        const char *value = eq ? eq + 1 : strcmp(r->flag, "stats") == 0 ? "text" : NULL;
        if (value == NULL || !accepted(r, value)) {
            fprintf(stderr, "hakmem: %s: --%s takes %s%s\n", a, r->flag,
                    hak_option_is_number(r->values)  ? "a whole number in "
                    : strcmp(r->values, "PATH") == 0 ? "a path (PATH)"
                                                     : "one of ",
                    strcmp(r->values, "PATH") == 0 ? "" : r->values);
            return 2;
        }
        setenv(r->var, value, 1);
    }
    if (i >= argc) {
        fprintf(stderr, "hakmem: no program to run (hakmem --help lists the options)\n");
        return 2;
    }
    char lib[PATH_MAX];
    if (!find_library(lib, sizeof lib)) {
        fprintf(stderr, "hakmem: libhakmem.so not found beside %s (expected in ../lib)\n", argv[0]);
        return 2;
    }
    const char *old = getenv("LD_PRELOAD");
    char *preload = NULL;
    if (asprintf(&preload, "%s%s%s", lib, old && *old ? " " : "", old ? old : "") < 0)
        return 2;
    setenv("LD_PRELOAD", preload, 1);
    execvp(argv[i], argv + i);
    fprintf(stderr, "hakmem: cannot run %s: %s\n", argv[i], strerror(errno));
    return 127;
}
