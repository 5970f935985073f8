#!/usr/bin/env bash
# target_lib.sh NAME — the shared library of the allocator `make fuzz|replay TARGET=NAME` tests,
# printed as a path (installed or built first when missing). --name NAME prints the short name
# its working files go under (build/target/NAME/).
#   glibc                    glibc's own malloc (libc.so.6)
#   mimalloc jemalloc tcmalloc   Debian's packages (libmimalloc2.0, libjemalloc2,
#                            libtcmalloc-minimal4), installed when missing (as root)
#   scudo                    LLVM's standalone scudo, clang's runtime (libclang-rt-dev)
#   hakmem hakmem-hardened   build/release or build/hardened libhakmem.so, built here
#   PATH                     any shared library that exports the malloc family
set -u
if [ "${1:-}" = --name ]; then
    case "$2" in
    */*) n=$(basename "$2"); echo "${n%%.so*}" ;;
    *) echo "$2" ;;
    esac
    exit 0
fi
name=${1:?usage: target_lib.sh [--name] NAME}

from_package() { # package, library file name
    local lib
    lib=$(ldconfig -p | awk -v f="$2" '$1 == f { print $NF; exit }')
    if [ -z "$lib" ]; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "target_lib: $name needs Debian's $1 (run as root to install it)" >&2
            exit 1
        fi
        echo "target_lib: installing $1" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null 2>&1 ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null; } ||
            { echo "target_lib: cannot install $1" >&2; exit 1; }
        lib=$(ldconfig -p | awk -v f="$2" '$1 == f { print $NF; exit }')
    fi
    [ -n "$lib" ] || { echo "target_lib: $1 installed but $2 not found" >&2; exit 1; }
    echo "$lib"
}

case "$name" in
glibc) echo libc.so.6 ;;
mimalloc) from_package libmimalloc2.0 libmimalloc.so.2 ;;
jemalloc) from_package libjemalloc2 libjemalloc.so.2 ;;
tcmalloc) from_package libtcmalloc-minimal4 libtcmalloc_minimal.so.4 ;;
scudo)
    lib=$(clang -print-file-name=libclang_rt.scudo_standalone-x86_64.so 2>/dev/null)
    [ -f "$lib" ] || { echo "target_lib: clang's scudo runtime not found (libclang-rt-dev)" >&2; exit 1; }
    echo "$lib" ;;
hakmem | hakmem-hardened)
    v=release
    [ "$name" = hakmem-hardened ] && v=hardened
    make --no-print-directory -s VARIANT=$v build/$v/libhakmem.so >&2 || exit 1
    echo "$(pwd)/build/$v/libhakmem.so" ;;
*/*)
    [ -f "$name" ] || { echo "target_lib: no such library: $name" >&2; exit 1; }
    echo "$(cd "$(dirname "$name")" && pwd)/$(basename "$name")" ;;
*)
    echo "target_lib: unknown target '$name' (glibc, mimalloc, jemalloc, tcmalloc, scudo, hakmem," \
        "hakmem-hardened, or a path to a shared library)" >&2
    exit 1 ;;
esac
