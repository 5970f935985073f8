#!/usr/bin/env bash
# Whole programs under LD_PRELOAD=libhakmem.so must print exactly what they print without it.
# Each comparison is one test case (PASS/FAIL line), each run limited to 120 s (a program that
# hangs under hakmem fails, naming itself, with its threads' stacks). usage: run.sh BUILD_DIR
set -u
build=$(cd "$1" && pwd)
repo=$(cd "$(dirname "$0")/../.." && pwd)
lib=$build/libhakmem.so
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

limit=120

# bounded CMD...: run CMD (a shell function too) in a session of its own; after $limit seconds
# print every thread's stack of its processes (gdb, when installed), kill it and return 124.
bounded() {
    perl -MPOSIX -e 'POSIX::setsid(); exec @ARGV or die "cannot run $ARGV[0]: $!\n"' bash -c "$(declare -f); \"\$@\"" bounded "$@" &
    local pid=$! t0=$SECONDS
    while kill -0 "$pid" 2>/dev/null; do
        if [ $((SECONDS - t0)) -ge $limit ]; then
            if command -v gdb >/dev/null; then
                for p in $(pgrep -s "$pid"); do
                    echo "  stacks of $(cat /proc/$p/comm 2>/dev/null) ($p):" >&2
                    timeout -s KILL 30 gdb -p "$p" -batch -nx -ex 'thread apply all bt 15' 2>/dev/null |
                        grep -E '^(Thread|#)' | sed 's/^/    /' >&2
                done
            fi
            pkill -KILL -s "$pid"
            wait "$pid" 2>/dev/null
            return 124
        fi
        sleep 0.2
    done
    wait "$pid" 2>/dev/null
}

# run NAME CMD...: compare stdout (and exit status) with and without hakmem
same_output() {
    local name=$1; shift
    local t0=$SECONDS
    bounded "$@" >"$work/plain.out" 2>"$work/plain.err"; local rc1=$?
    LD_PRELOAD=$lib bounded "$@" >"$work/hak.out" 2>"$work/hak.err"; local rc2=$?
    if [ $rc2 -eq 124 ]; then
        echo "FAIL $name: no result within $limit s under hakmem (stacks below)"
        head -c 4000 "$work/hak.err"
    elif [ $rc1 -eq $rc2 ] && cmp -s "$work/plain.out" "$work/hak.out" && [ -s "$work/hak.out" ]; then
        echo "PASS $name ($((SECONDS - t0))s)"
    else
        echo "FAIL $name: exit $rc1 vs $rc2; output differs or is empty"
        head -c 600 "$work/hak.err"
    fi
}

same_output python_dict_list_str_churn python3 -c '
import random
random.seed(7)
d = {}
for r in range(4):
    for i in range(100000):
        k = str(random.randrange(200000))
        d.setdefault(k, []).append(k * (i % 5))
    s = sorted(d)[:1000]
    print(r, len(d), sum(len(v) for v in d.values()), "".join(s)[:80])
    if r % 2: d.clear()
'

# A C file of several thousand lines, generated.
{
    echo '#include <stdio.h>'
    for i in $(seq 1 800); do
        echo "static int f$i(int x) { int y = x * $i; for (int k = 0; k < 10; k++) y ^= (y << 1) + k; return y; }"
    done
    echo 'int main(void) { int s = 0;'
    for i in $(seq 1 800); do echo "  s += f$i($i);"; done
    echo '  printf("%d\n", s); return 0; }'
} >big.c
gcc_compile() { gcc -O2 -c big.c -o big.o && sha256sum big.o | cut -c1-16; }
same_output gcc_O2_compile_of_a_1600_line_file gcc_compile

same_output perl_hash_one_liner perl -e '
my %h; for my $i (1..300000) { $h{"k".($i*7919 % 100003)} .= chr(65 + $i % 26); }
my $t = 0; $t += length($h{$_}) for keys %h; print scalar(keys %h), " $t\n";'

if git -C "$repo" rev-parse HEAD >/dev/null 2>&1; then
    same_output git_log git -C "$repo" log --stat -n 50
else
    same_output git_log_of_a_scratch_repo sh -c 'rm -rf scratch; git init -q scratch; cd scratch; git -c user.name=t -c user.email=t@t commit -q --allow-empty -m one; git log --format=%s'
fi
same_output git_status git -C "$repo" status --branch --untracked-files=all

awk 'BEGIN { srand(42); for (i = 0; i < 1000000; i++) printf "%08d %s\n", int(rand() * 1e8), substr("abcdefghijklmnop", 1 + i % 8, 8) }' >big.txt
sort_sum() { sort big.txt | sha256sum; }
same_output sort_of_a_17_mb_file sort_sum

same_output cxx_std_map_string_in_4_threads "$build/tests/programs/map_threads_cxx"
same_output first_malloc_from_dlopen_and_dlsym "$build/tests/programs/first_alloc_dlsym"

# Static linking: the program's malloc is hakmem's (it checks hak_stats itself).
if out=$("$build/tests/programs/first_alloc_in_thread_static") && [ "${out%% *}" = ok ]; then
    echo "PASS static_link_first_malloc_inside_pthread_create"
else
    echo "FAIL static_link_first_malloc_inside_pthread_create: $out"
fi
