#!/usr/bin/env bash
# install_check.sh — make install-check (part of make test): install into a temporary DESTDIR and
# use the result as a user would: a C program built with `pkg-config hakmem` (its malloc is
# hakmem's: its JSON statistics say so), one built with `pkg-config hakmem-core` (the hak_* API),
# python3 and a multi-threaded C++ program run through bin/hakmem --stats=json, every JSON report
# parsed by Python's json module; the launcher's refusals (unknown flag, bad value: exit status
# 2, program not started); an unwritable HAKMEM_STATS_FILE (one line, the program's own exit
# status); every HAKMEM_* variable the library reads documented in README and accepted by the
# launcher; and make uninstall leaving the prefix as it was. One PASS/FAIL line per check.
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest prefix=/usr/local
inst=$dest$prefix
failed=0
# Every program the check starts has 60 s (then it fails, naming what it ran): nothing hangs.
bounded() {
    timeout -k 5 60 "$@"
    local rc=$?
    [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && echo "no result within 60 s from: $*" >&2
    return "$rc"
}
pass() { echo "PASS $1"; }
fail() {
    echo "FAIL $1: $2"
    failed=$((failed + 1))
}
mkdir -p "$dest/usr" # a prefix that does not exist yet, under a DESTDIR that does
before=$(cd "$dest" && find . | sort)
version=$(sed -n 's/^#define HAKMEM_VERSION_STRING "\(.*\)"/\1/p' alloc/hakmem.h)
major=${version%%.*}

# json_check FILE-GLOB PYTHON-CONDITION: exactly one report matches, it parses, and the condition
# holds for it (bound to s).
json_check() {
    /usr/bin/env python3 - "$tmp" "$1" "$2" "$version" <<'PY'
import glob, json, sys
tmp, pattern, cond, version = sys.argv[1:]
files = glob.glob(f"{tmp}/{pattern}")
if len(files) != 1:
    sys.exit(f"{len(files)} reports match {pattern}")
s = json.load(open(files[0]))
assert s["schema"] == "hakmem-stats" and s["schema_version"] == 1, "schema"
assert s["hakmem_version"] == version, f"version {s['hakmem_version']}"
assert len(s["classes"]) == 40 and s["classes"][3]["block_size"] > 0, "classes"
if not eval(cond, {"s": s}):
    sys.exit(f"{cond} is false: allocs {s['allocs']}, threads {s['threads_started']}")
PY
}

if ! make --no-print-directory -s install DESTDIR="$dest" PREFIX="$prefix" >"$tmp/install.log" 2>&1; then
    fail make_install_into_a_destdir "$(tail -5 "$tmp/install.log")"
    echo "$failed failed"
    exit 1
fi
missing=""
for f in lib/libhakmem.so.$major.$(echo "$version" | cut -d. -f2) lib/libhakmem.so.$major \
    lib/libhakmem.so lib/libhakmem.a lib/libhakmem_core.a include/hakmem.h \
    lib/pkgconfig/hakmem.pc lib/pkgconfig/hakmem-core.pc bin/hakmem \
    lib/libhakmem-hardened.so.$major lib/libhakmem-hardened.a lib/pkgconfig/hakmem-hardened.pc; do
    [ -e "$inst/$f" ] || missing="$missing $f"
done
soname=$(readelf -d "$inst/lib/libhakmem.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
hsoname=$(readelf -d "$inst/lib/libhakmem-hardened.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ -z "$missing" ] && [ "$soname" = "libhakmem.so.$major" ] &&
    [ "$hsoname" = "libhakmem-hardened.so.$major" ]; then
    pass make_install_puts_every_file_in_place_with_a_versioned_soname
else
    fail make_install_puts_every_file_in_place_with_a_versioned_soname \
        "missing:$missing soname $soname, hardened $hsoname"
fi

export PKG_CONFIG_PATH=$inst/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
if [ "$(pkg-config --modversion hakmem)" = "$version" ] &&
    cc -std=gnu11 -O2 tests/install/use_malloc.c $(pkg-config --cflags --libs hakmem) \
        -Wl,-rpath,"$inst/lib" -o "$tmp/use_malloc" 2>"$tmp/cc.log" &&
    ldd "$tmp/use_malloc" | grep -q "libhakmem.so.$major => $inst/lib/"; then
    HAKMEM_STATS=json HAKMEM_STATS_FILE="$tmp/c.%p.json" bounded "$tmp/use_malloc" >/dev/null
    rc=$?
    if [ "$rc" -eq 3 ] && err=$(json_check 'c.*.json' 's["allocs"] >= 1000 and s["frees"] >= 1000' 2>&1); then
        pass program_built_with_pkg_config_hakmem_mallocs_from_hakmem
    else
        fail program_built_with_pkg_config_hakmem_mallocs_from_hakmem "exit $rc; $err"
    fi
else
    fail program_built_with_pkg_config_hakmem_mallocs_from_hakmem "$(cat "$tmp/cc.log")"
fi

if cc -std=gnu11 -O2 tests/install/use_core.c $(pkg-config --cflags --libs hakmem-core) \
    -o "$tmp/use_core" 2>"$tmp/cc.log" && ! ldd "$tmp/use_core" | grep -q libhakmem &&
    out=$(bounded "$tmp/use_core" 2>&1); then
    pass program_built_with_pkg_config_hakmem_core_uses_the_hak_api
else
    fail program_built_with_pkg_config_hakmem_core_uses_the_hak_api "$(cat "$tmp/cc.log") ${out:-}"
fi

launcher=$inst/bin/hakmem
# Debian's python3 itself (a version manager's shim would start more processes, each its report).
python=/usr/bin/python3
[ -x "$python" ] || python=python3
# PYTHONMALLOC=malloc: every Python object through malloc (pymalloc maps its own arenas).
if PYTHONMALLOC=malloc bounded "$launcher" --stats=json --stats-file="$tmp/py.%p.json" -- "$python" -c \
    'import json; print(len(json.dumps([str(i) * 3 for i in range(50000)])))' >/dev/null &&
    err=$(json_check 'py.*.json' 's["allocs"] > 10000' 2>&1); then
    pass python3_runs_through_the_launcher_with_json_statistics
else
    fail python3_runs_through_the_launcher_with_json_statistics "${err:-python3 failed}"
fi

if c++ -std=c++17 -O2 -pthread tests/install/threads.cc -o "$tmp/threads" 2>"$tmp/cc.log" &&
    bounded "$launcher" --stats=json --stats-file="$tmp/cc.%p.json" --guard=abort "$tmp/threads" \
        >/dev/null &&
    err=$(json_check 'cc.*.json' 's["threads_started"] >= 5 and s["remote_frees"] > 0' 2>&1); then
    pass threaded_cplusplus_program_runs_through_the_launcher_with_json_statistics
else
    fail threaded_cplusplus_program_runs_through_the_launcher_with_json_statistics \
        "${err:-$(cat "$tmp/cc.log")}"
fi

# Refusals: one line naming what is accepted, status 2, and the program never starts.
refuses() { # NAME EXPECTED-TEXT FLAG...
    local name=$1 want=$2
    shift 2
    rm -f "$tmp/started"
    bounded "$launcher" "$@" -- touch "$tmp/started" 2>"$tmp/err"
    local rc=$? lines
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && grep -q -- "$want" "$tmp/err" && [ ! -e "$tmp/started" ]; then
        pass "$name"
    else
        fail "$name" "status $rc, $lines line(s): $(cat "$tmp/err")"
    fi
}
refuses launcher_refuses_an_unknown_flag_naming_the_accepted_ones "guard=contain|log|abort" --bogus=1
refuses launcher_refuses_a_bad_value_naming_the_accepted_ones "contain|log|abort" --guard=maybe
refuses launcher_refuses_a_number_option_given_words "whole number in 0..1048576" --large-cache-mb=lots
# Each number outside its option's range, as the library would refuse it (the launcher must not
# start a program with a value the library would drop): max + 1, 2^32, 2^64, negative.
refuses launcher_refuses_a_number_past_its_range "whole number in 0..64" --segment-cache=65
refuses launcher_refuses_2_to_the_32_for_a_limit_in_seconds "whole number in 1..86400" \
    --wait-limit-s=4294967296
refuses launcher_refuses_2_to_the_64 "whole number in 0..4294967295" \
    --guard-report=18446744073709551616
refuses launcher_refuses_a_negative_number "whole number in 0..86400000" --large-purge-ms=-1
refuses launcher_refuses_zero_where_the_range_starts_at_one "whole number in 1..86400" \
    --wait-limit-s=0
# Where the launcher looks for its library: ../lib, else beside itself (a build folder). Without
# it, the same refusal as a bad flag: one line, status 2, nothing started.
mkdir -p "$tmp/alone" "$tmp/beside"
cp "$launcher" "$tmp/alone/hakmem"
installed_launcher=$launcher
launcher=$tmp/alone/hakmem
refuses launcher_without_its_library_refuses_and_starts_nothing "libhakmem.so not found beside"
cp "$installed_launcher" "$tmp/beside/hakmem"
cp "$inst"/lib/libhakmem.so.[0-9] "$tmp/beside/libhakmem.so"
launcher=$installed_launcher
if preload=$(bounded "$tmp/beside/hakmem" -- sh -c 'echo "$LD_PRELOAD"' 2>"$tmp/err") &&
    [ "$preload" = "$(realpath "$tmp/beside/libhakmem.so")" ]; then
    pass launcher_in_a_build_folder_preloads_the_library_beside_it
else
    fail launcher_in_a_build_folder_preloads_the_library_beside_it \
        "LD_PRELOAD was '${preload:-}' ($(cat "$tmp/err"))"
fi
rm -f "$tmp/started"
if bounded "$launcher" --segment-cache=64 --wait-limit-s=86400 --guard-report=4294967295 -- \
    touch "$tmp/started" 2>"$tmp/err" && [ -e "$tmp/started" ] && [ ! -s "$tmp/err" ]; then
    pass launcher_takes_each_range_maximum
else
    fail launcher_takes_each_range_maximum "$(cat "$tmp/err")"
fi

HAKMEM_STATS=json HAKMEM_STATS_FILE=$tmp/no/such/dir/%p.json bounded "$tmp/use_malloc" >/dev/null \
    2>"$tmp/err"
rc=$?
if [ "$rc" -eq 3 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "cannot write statistics" "$tmp/err"; then
    pass unwritable_stats_file_is_one_line_and_keeps_the_exit_status
else
    fail unwritable_stats_file_is_one_line_and_keeps_the_exit_status "status $rc: $(cat "$tmp/err")"
fi

# Every variable the library reads: in README, in --help, and set by its flag.
read_vars=$(grep -ho '"HAKMEM_[A-Z_]*"' alloc/*.c alloc/*.h | tr -d '"' | sort -u)
help=$("$launcher" --help)
bad=""
for v in $read_vars; do
    grep -q "$v" README.md || bad="$bad $v(not in README)"
    line=$(echo "$help" | grep -- "--.* $v\$" | head -1)
    flag=$(echo "$line" | awk '{print $1}' | sed 's/\[=text|json\]/=json/')
    case "$flag" in
    *=[0-9]*..[0-9]*) flag=${flag%=*}=${flag##*..} ;; # a number: the range's maximum
    *=PATH) flag=${flag%=PATH}=$tmp/somewhere ;;
    *=*) flag=$(echo "$flag" | sed 's/|.*//') ;;
    *) bad="$bad $v(no flag)" && continue ;;
    esac
    bounded "$launcher" "$flag" -- env | grep -q "^$v=" || bad="$bad $v($flag not accepted)"
done
[ "$(echo "$help" | grep -c ' HAKMEM_')" -eq "$(echo "$read_vars" | wc -l)" ] || bad="$bad (--help lists a different set)"
if [ -z "$bad" ] && [ -n "$read_vars" ]; then
    pass every_option_the_library_reads_is_documented_and_accepted_by_the_launcher
else
    fail every_option_the_library_reads_is_documented_and_accepted_by_the_launcher "$bad"
fi
# Every spelling --help shows: each word of a flag's list (a bare flag whose value is optional: the
# first word), each range's ends and a value inside it, a path. Each must start the program with
# exactly that value in the variable the line names.
spellings=$(echo "$help" | awk '$1 ~ /^--[a-z-]+(=|\[=)/ && $2 ~ /^HAKMEM_/ { print $1, $2 }')
bad="" n=0
while read -r spec var; do
    flag=${spec%%[=[]*}
    values=${spec#"$flag"}
    tries=()
    case "$values" in
    "[="*) words=${values#[=}; words=${words%]}; tries+=("$flag ${words%%|*}") ;;
    esac
    values=${values#[}; values=${values%]}; values=${values#=}
    case "$values" in
    PATH) tries+=("$flag=$tmp/stats-path $tmp/stats-path") ;;
    *..*) lo=${values%%..*} hi=${values##*..}
        tries+=("$flag=$lo $lo" "$flag=$hi $hi" "$flag=$(((lo + hi) / 2)) $(((lo + hi) / 2))") ;;
    *) for w in ${values//|/ }; do tries+=("$flag=$w $w"); done ;;
    esac
    for t in "${tries[@]}"; do
        arg=${t% *} want=${t##* }
        n=$((n + 1))
        got=$(bounded "$launcher" "$arg" -- env 2>"$tmp/err" | sed -n "s/^$var=//p")
        [ "$got" = "$want" ] && [ ! -s "$tmp/err" ] ||
            bad="$bad $arg(set $var='$got', want '$want'; $(head -c 100 "$tmp/err"))"
    done
done <<<"$spellings"
if [ -z "$bad" ] && [ "$n" -ge 20 ]; then
    pass "launcher_takes_every_spelling_its_help_shows ($n spellings)"
else
    fail launcher_takes_every_spelling_its_help_shows "$n spellings tried;$bad"
fi

if "$launcher" --version | grep -q "^hakmem $version (library: $inst/lib/libhakmem.so.$major"; then
    pass launcher_version_names_the_version_and_the_library
else
    fail launcher_version_names_the_version_and_the_library "$("$launcher" --version)"
fi

# The hardened library, as a user links it: a one-byte overflow ends the program with its report.
if cc -std=gnu11 -O2 tests/install/overflow_by_one.c $(pkg-config --cflags --libs hakmem-hardened) \
    -Wl,-rpath,"$inst/lib" -o "$tmp/overflow" 2>"$tmp/cc.log" &&
    ldd "$tmp/overflow" | grep -q "libhakmem-hardened.so.$major => $inst/lib/"; then
    bounded "$tmp/overflow" 2>"$tmp/overflow.err"
    rc=$?
    if [ "$rc" -eq 134 ] && grep -q "^hakmem: free(): heap buffer overflow" "$tmp/overflow.err"; then
        pass program_built_with_pkg_config_hakmem_hardened_stops_at_an_overflow
    else
        fail program_built_with_pkg_config_hakmem_hardened_stops_at_an_overflow \
            "exit $rc: $(head -c 300 "$tmp/overflow.err")"
    fi
else
    fail program_built_with_pkg_config_hakmem_hardened_stops_at_an_overflow "$(head -5 "$tmp/cc.log")"
fi

# The installed archives: a program that defines the names hakmem's own archive defined before
# its private namespace links against them, and their global symbols are the public API only.
out=$(tests/symbols/clash_test.sh "$inst/lib" "$inst/include" 2>&1)
echo "$out" | sed 's/^\(PASS\|FAIL\) \([a-z_]*\)/\1 installed_\2/'
echo "$out" | grep -q '^FAIL ' && failed=1
extra=$(for a in libhakmem.a libhakmem_core.a; do tests/symbols/internal_names.sh "$inst/lib/$a"; done)
if [ -z "$extra" ]; then
    pass installed_archives_define_only_the_public_api
else
    fail installed_archives_define_only_the_public_api "$(echo "$extra" | head -5 | tr '\n' ' ')"
fi

make --no-print-directory -s uninstall DESTDIR="$dest" PREFIX="$prefix" >/dev/null 2>&1
after=$(cd "$dest" && find . | sort)
if [ "$before" = "$after" ]; then
    pass make_uninstall_leaves_the_prefix_as_it_was
else
    fail make_uninstall_leaves_the_prefix_as_it_was "$(diff <(echo "$before") <(echo "$after") | head -5 | tr '\n' ' ')"
fi
[ "$failed" -eq 0 ]
