/* opsc — convert op-sequence programs between the text form and the binary form.
 *
 *   opsc compile PROGRAM.txt OUT.bin     text -> binary
 *   opsc decompile PROGRAM.bin           binary -> text on stdout (decoded sizes as comments) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(int argc, char **argv)
{
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
    fprintf(stderr, "usage: opsc compile PROGRAM.txt OUT.bin | opsc decompile PROGRAM.bin\n");
    return 2;
}
