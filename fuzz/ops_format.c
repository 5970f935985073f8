/* ops_format.c — decoding, text form and compilation of op-sequence inputs. */
#include "ops_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[OP_COUNT] = {
    "malloc",      "calloc",     "realloc",    "aligned", "free",         "free_on",
    "alloc_on",    "churn_on",   "end_worker", "flush",   "foreign_free", "foreign_realloc",
    "sweep",       "check_heap", "usable",     "fork",    "stats",        "bulk_on",
    "double_free", "race",       "oom",
};

static const char *const action_names[RACE_ACTIONS] = {"none",  "free", "alloc",
                                                       "churn", "exit", "flush"};

static const char *const kind_names[FOREIGN_KINDS] = {"libc", "stack", "mapping", "interior"};

/* Tier edges: the Tiny/Mid and Mid/page-run limits, page-run sizes and the Large limit. */
static const size_t edges[8] = {1024, 32768, 65536, 4096, 1u << 20, (1u << 20) - 4096, 2u << 20, 0};

enum operand {
    A_SLOT,
    A_WORKER,
    A_THREAD,
    A_CLASS,
    A_COUNT,
    A_ALIGN,
    A_KIND,
    A_SIZE,
    A_SCALE,
    A_TASK1,
    A_TASK2,
    A_TASK3,
    A_SCHED,
    A_ARMED,
    A_AFTER,
    A_SPAN,
    A_KINDS
};

/* Encoded length of an operand. */
static size_t operand_bytes(int a)
{
    return a == A_SIZE ? 3 : a >= A_TASK1 && a <= A_TASK3 ? 3 : a == A_SCHED ? 4 : 1;
}

/* Operands of each op, in encoding order (A_SIZE is 3 bytes, everything else 1). */
static const signed char layout[OP_COUNT][5] = {
    [OP_MALLOC] = {A_SLOT, A_SIZE, -1},
    [OP_CALLOC] = {A_SLOT, A_SIZE, -1},
    [OP_REALLOC] = {A_SLOT, A_SIZE, -1},
    [OP_ALIGNED] = {A_SLOT, A_ALIGN, A_SIZE, -1},
    [OP_FREE] = {A_SLOT, -1},
    [OP_FREE_ON] = {A_SLOT, A_WORKER, -1},
    [OP_ALLOC_ON] = {A_SLOT, A_WORKER, A_SIZE, -1},
    [OP_CHURN_ON] = {A_WORKER, A_CLASS, A_COUNT, -1},
    [OP_END_WORKER] = {A_WORKER, -1},
    [OP_FLUSH] = {A_THREAD, -1},
    [OP_FOREIGN_FREE] = {A_KIND, A_SLOT, -1},
    [OP_FOREIGN_REALLOC] = {A_KIND, A_SLOT, -1},
    [OP_SWEEP] = {-1},
    [OP_CHECK_HEAP] = {-1},
    [OP_USABLE] = {A_SLOT, -1},
    [OP_FORK] = {A_ARMED, -1},
    [OP_STATS] = {-1},
    [OP_BULK_ON] = {A_WORKER, A_CLASS, A_SCALE, -1},
    [OP_DOUBLE_FREE] = {A_SLOT, A_THREAD, -1},
    [OP_RACE] = {A_TASK1, A_TASK2, A_TASK3, A_SCHED, -1},
    [OP_OOM] = {A_AFTER, A_SPAN, -1},
};

static const char *const operand_names[A_KINDS] = {
    "slot",  "worker", "thread", "class", "count", "align", "kind",  "size",
    "scale", "t1",     "t2",     "t3",    "sched", "armed", "after", "ops"};

int ops_refusable(enum op_code code)
{
    switch (code) {
    case OP_MALLOC:
    case OP_CALLOC:
    case OP_REALLOC:
    case OP_ALIGNED:
    case OP_FREE:
    case OP_FREE_ON:
    case OP_ALLOC_ON:
    case OP_CHURN_ON:
    case OP_BULK_ON:
    case OP_FLUSH:
    case OP_RACE:
    case OP_DOUBLE_FREE:
        return 1;
    default:
        return 0;
    }
}

size_t ops_class_size(unsigned cls)
{
    if (cls < 8)
        return 16 * (cls + 1);
    unsigned k = cls - 8;
    size_t base = (size_t)128 << (k / 4);
    return base + (base / 4) * (k % 4 + 1);
}

static size_t decode_size(const uint8_t b[3])
{
    unsigned v = b[1] | (unsigned)b[2] << 8;
    long delta;
    switch (b[0] % 4) {
    case 0:
        return v;
    case 1:
        delta = (long)(v / OPS_CLASSES % 3) - 1;
        return (size_t)((long)ops_class_size(v % OPS_CLASSES) + delta);
    case 2:
        delta = (long)(v / 8 % 3) - 1;
        return edges[v % 8] == 0 ? 0 : (size_t)((long)edges[v % 8] + delta);
    default:
        return ((size_t)1 << 20) + (size_t)(v % 64) * 65536;
    }
}

static struct race_task decode_task(const uint8_t b[3])
{
    struct race_task t = {.action = (enum race_action)(b[0] / (OPS_WORKERS + 1) % RACE_ACTIONS),
                          .thread = b[0] % (OPS_WORKERS + 1)};
    switch (t.action) {
    case RACE_FREE:
        t.group = b[1] % OPS_GROUPS;
        break;
    case RACE_ALLOC:
        t.group = b[1] % OPS_GROUPS;
        t.cls = b[2] % OPS_CLASSES;
        break;
    case RACE_CHURN:
        t.cls = b[1] % OPS_CLASSES;
        t.count = b[2] % 64 + 1;
        break;
    case RACE_FLUSH:
        t.collect = b[1] & 1;
        break;
    default:
        break;
    }
    if (t.action == RACE_NONE)
        t.thread = 0;
    return t;
}

int ops_next(const uint8_t *data, size_t len, size_t *pos, struct op *out)
{
    size_t p = *pos;
    if (p >= len)
        return 0;
    memset(out, 0, sizeof *out);
    out->code = (enum op_code)(data[p++] % OP_COUNT);
    for (const signed char *a = layout[out->code]; *a >= 0; a++) {
        size_t need = operand_bytes(*a);
        if (p + need > len)
            return 0;
        uint8_t b = data[p];
        switch (*a) {
        case A_SLOT:
            out->slot = b % OPS_SLOTS;
            break;
        case A_WORKER:
            out->worker = b % OPS_WORKERS;
            break;
        case A_THREAD:
            out->thread = b % (OPS_WORKERS + 1);
            break;
        case A_CLASS:
            out->cls = b % OPS_CLASSES;
            break;
        case A_COUNT:
            out->count = b % 128 + 1;
            break;
        case A_ALIGN:
            out->align = (size_t)1 << (b % (OPS_MAX_ALIGN_LOG2 + 1));
            break;
        case A_KIND:
            out->kind = b % FOREIGN_KINDS;
            break;
        case A_SCALE:
            out->scale = b % 8 + 1;
            break;
        case A_SIZE:
            memcpy(out->size_bytes, data + p, 3);
            out->size = decode_size(data + p);
            break;
        case A_TASK1:
        case A_TASK2:
        case A_TASK3:
            out->task[*a - A_TASK1] = decode_task(data + p);
            break;
        case A_SCHED:
            memcpy(out->sched, data + p, 4);
            break;
        case A_ARMED:
            out->armed = b == OPS_FORK_KEY;
            break;
        case A_AFTER:
            out->oom_after = b % OPS_OOM_AFTER;
            break;
        case A_SPAN:
            out->oom_span = b % OPS_OOM_SPAN + 1;
            break;
        }
        p += need;
    }
    *pos = p;
    return 1;
}

static void format_size(const uint8_t b[3], char *buf, size_t len)
{
    unsigned v = b[1] | (unsigned)b[2] << 8;
    static const char *const delta[3] = {"-1", "0", "+1"};
    switch (b[0] % 4) {
    case 0:
        snprintf(buf, len, "%u", v);
        break;
    case 1:
        snprintf(buf, len, "class:%u:%s", v % OPS_CLASSES, delta[v / OPS_CLASSES % 3]);
        break;
    case 2:
        snprintf(buf, len, "edge:%u:%s", v % 8, delta[v / 8 % 3]);
        break;
    default:
        snprintf(buf, len, "large:%u", v % 64);
        break;
    }
}

static void format_task(const struct race_task *t, char *buf, size_t len)
{
    switch (t->action) {
    case RACE_NONE:
        snprintf(buf, len, "none");
        break;
    case RACE_FREE:
        snprintf(buf, len, "%u:free:g%u", t->thread, t->group);
        break;
    case RACE_ALLOC:
        snprintf(buf, len, "%u:alloc:g%u:c%u", t->thread, t->group, t->cls);
        break;
    case RACE_CHURN:
        snprintf(buf, len, "%u:churn:c%u:n%u", t->thread, t->cls, t->count);
        break;
    case RACE_FLUSH:
        snprintf(buf, len, "%u:%s", t->thread, t->collect ? "collect" : "flush");
        break;
    default:
        snprintf(buf, len, "%u:%s", t->thread, action_names[t->action]);
        break;
    }
}

void ops_format(const struct op *op, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "%s", names[op->code]);
    for (const signed char *a = layout[op->code]; *a >= 0 && n < len; a++) {
        char value[48];
        if (*a >= A_TASK1 && *a <= A_TASK3) {
            format_task(&op->task[*a - A_TASK1], value, sizeof value);
            n += (size_t)snprintf(buf + n, len - n, " %s=%s", operand_names[*a], value);
            continue;
        }
        if (*a == A_SCHED) {
            n += (size_t)snprintf(buf + n, len - n, " sched=0x%02x%02x%02x%02x", op->sched[0],
                                  op->sched[1], op->sched[2], op->sched[3]);
            continue;
        }
        switch (*a) {
        case A_SLOT:
            snprintf(value, sizeof value, "%u", op->slot);
            break;
        case A_WORKER:
            snprintf(value, sizeof value, "%u", op->worker);
            break;
        case A_THREAD:
            snprintf(value, sizeof value, "%u", op->thread);
            break;
        case A_CLASS:
            snprintf(value, sizeof value, "%u", op->cls);
            break;
        case A_COUNT:
            snprintf(value, sizeof value, "%u", op->count);
            break;
        case A_ALIGN:
            snprintf(value, sizeof value, "%zu", op->align);
            break;
        case A_KIND:
            snprintf(value, sizeof value, "%s", kind_names[op->kind]);
            break;
        case A_SCALE:
            snprintf(value, sizeof value, "%u", op->scale);
            break;
        case A_SIZE:
            format_size(op->size_bytes, value, sizeof value);
            break;
        case A_ARMED:
            snprintf(value, sizeof value, "%u", op->armed);
            break;
        case A_AFTER:
            snprintf(value, sizeof value, "%u", op->oom_after);
            break;
        case A_SPAN:
            snprintf(value, sizeof value, "%u", op->oom_span);
            break;
        }
        n += (size_t)snprintf(buf + n, len - n, " %s=%s", operand_names[*a], value);
    }
    if (n < len && layout[op->code][0] >= 0) {
        for (const signed char *a = layout[op->code]; *a >= 0; a++)
            if (*a == A_SIZE)
                snprintf(buf + n, len - n, "   # %zu bytes", op->size);
    }
}

/* ---- compilation ---- */

static int parse_uint(const char *s, unsigned long *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 0);
    if (end == s || *end != '\0')
        return 0;
    *out = v;
    return 1;
}

static int encode_size(const char *s, uint8_t out[3])
{
    unsigned long a, b;
    char sign[8];
    int d;
    if (sscanf(s, "class:%lu:%7s", &a, sign) == 2 && a < OPS_CLASSES) {
        d = !strcmp(sign, "-1") ? 0 : !strcmp(sign, "0") ? 1 : !strcmp(sign, "+1") ? 2 : -1;
        if (d < 0)
            return 0;
        unsigned v = (unsigned)(a + OPS_CLASSES * (unsigned long)d);
        out[0] = 1, out[1] = v & 0xff, out[2] = v >> 8;
        return 1;
    }
    if (sscanf(s, "edge:%lu:%7s", &a, sign) == 2 && a < 8) {
        d = !strcmp(sign, "-1") ? 0 : !strcmp(sign, "0") ? 1 : !strcmp(sign, "+1") ? 2 : -1;
        if (d < 0)
            return 0;
        unsigned v = (unsigned)(a + 8 * (unsigned long)d);
        out[0] = 2, out[1] = v & 0xff, out[2] = v >> 8;
        return 1;
    }
    if (sscanf(s, "large:%lu", &b) == 1 && b < 64) {
        out[0] = 3, out[1] = (uint8_t)b, out[2] = 0;
        return 1;
    }
    if (parse_uint(s, &a) && a <= 0xffff) {
        out[0] = 0, out[1] = a & 0xff, out[2] = (uint8_t)(a >> 8);
        return 1;
    }
    return 0;
}

static int encode_task(const char *s, uint8_t out[3])
{
    unsigned long thread, a = 0, b = 0;
    char action[16];
    out[0] = out[1] = out[2] = 0;
    if (!strcmp(s, "none"))
        return 1;
    int n = sscanf(s, "%lu:%15[a-z]", &thread, action);
    if (n != 2 || thread > OPS_WORKERS)
        return 0;
    const char *rest = strchr(strchr(s, ':') + 1, ':');
    int k = -1;
    for (int i = 1; i < RACE_ACTIONS; i++)
        if (!strcmp(action, action_names[i]))
            k = i;
    if (!strcmp(action, "collect")) { /* a flush with its operand odd */
        k = RACE_FLUSH;
        a = 1;
    }
    switch (k) {
    case RACE_FREE:
        if (rest == NULL || sscanf(rest, ":g%lu", &a) != 1 || a >= OPS_GROUPS)
            return 0;
        break;
    case RACE_ALLOC:
        if (rest == NULL || sscanf(rest, ":g%lu:c%lu", &a, &b) != 2 || a >= OPS_GROUPS ||
            b >= OPS_CLASSES)
            return 0;
        break;
    case RACE_CHURN:
        if (rest == NULL || sscanf(rest, ":c%lu:n%lu", &a, &b) != 2 || a >= OPS_CLASSES || b < 1 ||
            b > 64)
            return 0;
        b -= 1;
        break;
    case RACE_EXIT:
    case RACE_FLUSH:
        if (rest != NULL || (k == RACE_EXIT && thread == 0))
            return 0;
        break;
    default:
        return 0;
    }
    out[0] = (uint8_t)(thread + (OPS_WORKERS + 1) * (unsigned long)k);
    out[1] = (uint8_t)a;
    out[2] = (uint8_t)b;
    return 1;
}

static int encode_operand(int kind, const char *value, uint8_t *out)
{
    unsigned long v;
    if (kind == A_SIZE)
        return encode_size(value, out);
    if (kind >= A_TASK1 && kind <= A_TASK3)
        return encode_task(value, out);
    if (kind == A_SCHED) {
        if (!parse_uint(value, &v) || v > 0xffffffffu)
            return 0;
        for (int i = 0; i < 4; i++)
            out[i] = (uint8_t)(v >> (24 - 8 * i));
        return 1;
    }
    if (kind == A_KIND) {
        for (unsigned k = 0; k < FOREIGN_KINDS; k++)
            if (!strcmp(value, kind_names[k])) {
                out[0] = (uint8_t)k;
                return 1;
            }
        return 0;
    }
    if (!parse_uint(value, &v))
        return 0;
    switch (kind) {
    case A_SLOT:
        return v < OPS_SLOTS ? (out[0] = (uint8_t)v, 1) : 0;
    case A_WORKER:
        return v < OPS_WORKERS ? (out[0] = (uint8_t)v, 1) : 0;
    case A_THREAD:
        return v <= OPS_WORKERS ? (out[0] = (uint8_t)v, 1) : 0;
    case A_CLASS:
        return v < OPS_CLASSES ? (out[0] = (uint8_t)v, 1) : 0;
    case A_COUNT:
        return v >= 1 && v <= 128 ? (out[0] = (uint8_t)(v - 1), 1) : 0;
    case A_SCALE:
        return v >= 1 && v <= 8 ? (out[0] = (uint8_t)(v - 1), 1) : 0;
    case A_ARMED:
        return v <= 1 ? (out[0] = v ? OPS_FORK_KEY : 0, 1) : 0;
    case A_AFTER:
        return v < OPS_OOM_AFTER ? (out[0] = (uint8_t)v, 1) : 0;
    case A_SPAN:
        return v >= 1 && v <= OPS_OOM_SPAN ? (out[0] = (uint8_t)(v - 1), 1) : 0;
    case A_ALIGN:
        for (unsigned k = 0; k <= OPS_MAX_ALIGN_LOG2; k++)
            if (v == (1ul << k))
                return out[0] = (uint8_t)k, 1;
        return 0;
    }
    return 0;
}

long ops_compile(const char *text, uint8_t *out, size_t cap, char *err, size_t errlen)
{
    size_t n = 0;
    if (cap < 1)
        return -1;
    out[n++] = OPS_VERSION_BYTE;
    int lineno = 0;
    const char *line = text;
    while (*line) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char buf[512];
        lineno++;
        if (len >= sizeof buf) {
            snprintf(err, errlen, "line %d: too long", lineno);
            return -1;
        }
        memcpy(buf, line, len);
        buf[len] = '\0';
        line += len + (eol ? 1 : 0);
        char *hash = strchr(buf, '#');
        if (hash)
            *hash = '\0';
        char *save = NULL, *word = strtok_r(buf, " \t\r", &save);
        if (word == NULL)
            continue;
        int code = -1;
        for (int k = 0; k < OP_COUNT; k++)
            if (!strcmp(word, names[k]))
                code = k;
        if (code < 0) {
            snprintf(err, errlen, "line %d: unknown op '%s'", lineno, word);
            return -1;
        }
        if (n + 16 > cap) {
            snprintf(err, errlen, "line %d: program too long", lineno);
            return -1;
        }
        out[n++] = (uint8_t)code;
        /* Operands may come in any order as name=value; all are required. */
        char *given[A_KINDS] = {0};
        while ((word = strtok_r(NULL, " \t\r", &save)) != NULL) {
            char *eq = strchr(word, '=');
            int known = 0;
            if (eq) {
                *eq = '\0';
                for (int k = 0; k < A_KINDS; k++)
                    if (!strcmp(word, operand_names[k]))
                        given[k] = eq + 1, known = 1;
            }
            if (!known) {
                snprintf(err, errlen, "line %d: bad operand '%s'", lineno, word);
                return -1;
            }
        }
        for (const signed char *a = layout[code]; *a >= 0; a++) {
            if (given[(int)*a] == NULL || !encode_operand(*a, given[(int)*a], out + n)) {
                snprintf(err, errlen, "line %d: %s needs a valid %s", lineno, names[code],
                         operand_names[(int)*a]);
                return -1;
            }
            n += operand_bytes(*a);
        }
    }
    return (long)n;
}
