/* opsc — convert op-sequence programs between the text form and the binary form, and write a
 * program as plain C for a bug report.
 *
 *   opsc compile PROGRAM.txt OUT.bin     text -> binary
 *   opsc decompile PROGRAM.bin           binary -> text on stdout (decoded sizes as comments)
 *   opsc emit-c [--strict-c] [--runtime FILE] PROGRAM
 *                                        text or binary -> C on stdout: fuzz/repro_runtime.c and a
 *                                        main() with one call per op (standard API and threads
 *                                        only; hakmem's own ops become comments) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops_format.h"

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        perror(path);
        exit(1);
    }
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* The runtime beside the program's tree: build/opsc reads ../fuzz/repro_runtime.c from where it
 * is, so a copy of the tree (a planted bug's) emits its own runtime. */
static const char *default_runtime(void)
{
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 64);
    if (n > 0) {
        path[n] = '\0';
        char *slash = strrchr(path, '/');
        if (slash != NULL) {
            strcpy(slash, "/../fuzz/repro_runtime.c");
            if (access(path, R_OK) == 0)
                return path;
        }
    }
    return "fuzz/repro_runtime.c";
}

/* The op's text as a C string literal's contents. */
static void c_string(const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else
            putchar(*s);
}

/* The race's tasks as the interpreter keeps them: one per thread and slot group, no exit of the
 * main thread. */
static void emit_race(const struct op *op)
{
    unsigned threads = 0, groups = 0, n = 0;
    printf("        {\n            static const struct repro_task t[] = {");
    for (int i = 0; i < OPS_RACE_TASKS; i++) {
        const struct race_task *t = &op->task[i];
        int grouped = t->action == RACE_FREE || t->action == RACE_ALLOC;
        if (t->action == RACE_NONE || (t->action == RACE_EXIT && t->thread == 0) ||
            (threads & (1u << t->thread)) || (grouped && (groups & (1u << t->group))))
            continue;
        threads |= 1u << t->thread;
        if (grouped)
            groups |= 1u << t->group;
        size_t size =
            t->action == RACE_ALLOC || t->action == RACE_CHURN ? ops_class_size(t->cls) : 0;
        printf("%s{%d, %u, %u, %u, %zu}", n++ ? ", " : "", (int)t->action, t->thread, t->group,
               t->action == RACE_CHURN ? t->count : 0, size);
    }
    if (n == 0)
        printf("{0, 0, 0, 0, 0}");
    printf("};\n            r_race(t, %u);\n        }\n", n);
}

static void emit_op(const struct op *op)
{
    switch (op->code) {
    case OP_MALLOC:
        printf("        r_malloc(%u, %zu);\n", op->slot, op->size);
        break;
    case OP_CALLOC:
        printf("        r_calloc(%u, %zu);\n", op->slot, op->size);
        break;
    case OP_REALLOC:
        printf("        r_realloc(%u, %zu);\n", op->slot, op->size);
        break;
    case OP_ALIGNED:
        printf("        r_aligned(%u, %zu, %zu);\n", op->slot, op->align, op->size);
        break;
    case OP_FREE:
        printf("        r_free(%u);\n", op->slot);
        break;
    case OP_FREE_ON:
        printf("        r_free_on(%u, %u);\n", op->slot, op->worker);
        break;
    case OP_ALLOC_ON:
        printf("        r_alloc_on(%u, %u, %zu);\n", op->slot, op->worker, op->size);
        break;
    case OP_CHURN_ON:
        printf("        r_churn_on(%u, %zu, %u);\n", op->worker, ops_class_size(op->cls),
               op->count);
        break;
    case OP_BULK_ON: {
        size_t size = ops_class_size(op->cls);
        unsigned n = op->scale * 512;
        if ((size_t)n * size > ((size_t)8 << 20))
            n = (unsigned)(((size_t)8 << 20) / size);
        printf("        r_bulk_on(%u, %zu, %u);\n", op->worker, size, n);
        break;
    }
    case OP_END_WORKER:
        printf("        r_end_worker(%u);\n", op->worker);
        break;
    case OP_SWEEP:
        printf("        r_sweep();\n");
        break;
    case OP_USABLE:
        printf("        r_usable(%u);\n", op->slot);
        break;
    case OP_FORK:
        printf(op->armed ? "        if (run == 0)\n            r_fork();\n"
                         : "        /* unarmed */\n");
        break;
    case OP_OOM:
        printf("        r_oom(%u, %u);\n", op->oom_after, op->oom_span);
        break;
    case OP_DOUBLE_FREE: /* the second free is hakmem's business only */
        printf("        r_free(%u); /* its second free: hakmem's misuse check, left out */\n",
               op->slot);
        break;
    case OP_RACE:
        emit_race(op);
        break;
    default: /* flush, foreign frees, the heap check, statistics */
        printf("        /* hakmem's own op: left out */\n");
        break;
    }
}

static int emit_c(const unsigned char *data, size_t len, const char *runtime, int strict_c)
{
    size_t rlen;
    FILE *f = fopen(runtime, "rb");
    if (f == NULL) {
        perror(runtime);
        return 1;
    }
    fclose(f);
    unsigned char *rt = slurp(runtime, &rlen);
    printf(
        "/* A reproducer written by opsc emit-c: cc -O1 -fno-builtin -pthread repro.c -o repro "
        "-ldl,\n"
        " * then LD_PRELOAD=<the allocator> ./repro (REPRO_RUNS=N runs the program N times; races\n"
        " * run on real threads; -fno-builtin keeps the compiler from assuming what malloc does,\n"
        " * such as that it leaves errno alone). */\n");
    if (strict_c)
        printf("#define REPRO_STRICT_C 1\n");
    fwrite(rt, 1, rlen, stdout);
    printf("\n/* ---- the program ---- */\n\nint main(void)\n{\n    repro_setup();\n"
           "    long runs = getenv(\"REPRO_RUNS\") ? atol(getenv(\"REPRO_RUNS\")) : 2;\n"
           "    for (long run = 0; run < runs; run++) {\n");
    size_t pos = 1;
    struct op op;
    char line[256];
    for (unsigned index = 0; ops_next(data, len, &pos, &op); index++) {
        ops_format(&op, line, sizeof line);
        printf("        repro_begin(%u, \"", index);
        c_string(line);
        printf("\", %d);\n", ops_refusable(op.code));
        emit_op(&op);
        printf("        repro_end(%d);\n", op.code == OP_OOM);
    }
    printf("        repro_finish();\n    }\n    puts(\"repro: every check passed\");\n"
           "    return 0;\n}\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "emit-c")) {
        const char *runtime = default_runtime();
        int strict_c = 0, i = 2;
        for (; i < argc - 1; i++)
            if (!strcmp(argv[i], "--strict-c"))
                strict_c = 1;
            else if (!strcmp(argv[i], "--runtime") && i + 1 < argc - 1)
                runtime = argv[++i];
            else
                break;
        if (i != argc - 1) {
            fprintf(stderr, "usage: opsc emit-c [--strict-c] [--runtime FILE] PROGRAM\n");
            return 2;
        }
        size_t len;
        unsigned char *data = slurp(argv[i], &len);
        if (len > 0 && data[0] != OPS_VERSION_BYTE) { /* the text form */
            static unsigned char bin[1 << 20];
            char err[256];
            long n = ops_compile((char *)data, bin, sizeof bin, err, sizeof err);
            if (n < 0) {
                fprintf(stderr, "%s: %s\n", argv[i], err);
                return 1;
            }
            data = bin;
            len = (size_t)n;
        }
        return emit_c(data, len, runtime, strict_c);
    }
    if (argc == 4 && !strcmp(argv[1], "compile")) {
        size_t len;
        char *text = (char *)slurp(argv[2], &len), err[256];
        static unsigned char out[1 << 20];
        long n = ops_compile(text, out, sizeof out, err, sizeof err);
        if (n < 0) {
            fprintf(stderr, "%s: %s\n", argv[2], err);
            return 1;
        }
        FILE *f = fopen(argv[3], "wb");
        if (!f || fwrite(out, 1, (size_t)n, f) != (size_t)n || fclose(f) != 0) {
            perror(argv[3]);
            return 1;
        }
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "decompile")) {
        size_t len, pos = 1;
        unsigned char *data = slurp(argv[2], &len);
        if (len == 0 || data[0] != OPS_VERSION_BYTE) {
            fprintf(stderr, "%s: not a version-%d program\n", argv[2], OPS_VERSION);
            return 1;
        }
        printf("# hakmem ops v%d\n", OPS_VERSION);
        struct op op;
        char line[256];
        while (ops_next(data, len, &pos, &op)) {
            ops_format(&op, line, sizeof line);
            printf("%s\n", line);
        }
        return 0;
    }
    fprintf(stderr, "usage: opsc compile PROGRAM.txt OUT.bin | opsc decompile PROGRAM.bin | "
                    "opsc emit-c [--strict-c] [--runtime FILE] PROGRAM\n");
    return 2;
}
