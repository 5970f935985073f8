#!/usr/bin/env bash
# run.sh BIN ALLOC THREADS SECONDS CHECK [ROUNDS] — make larson: run the Larson driver with one allocator.
# In release one binary runs every allocator through LD_PRELOAD: hakmem's libhakmem.so, or the
# Debian packages of mimalloc, jemalloc and tcmalloc (installed when missing); system = glibc.
# A binary built with LARSON_HAK_API (sanitizer variants) calls hakmem directly: ALLOC must be hakmem.
set -u
bin=$1 alloc=$2 threads=$3 seconds=$4 check=$5 rounds=${6:-100}
lib_dir=/usr/lib/x86_64-linux-gnu
preload=""
need_pkg() { # $1 library file, $2 Debian package
    if [ ! -e "$lib_dir/$1" ]; then
        echo "installing $2 (Debian package)" >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2") \
            >/dev/null 2>&1 || { echo "could not install $2" >&2; exit 1; }
    fi
    preload=$lib_dir/$1
}
api=0
nm "$bin" 2>/dev/null | grep -q ' hak_malloc$' && api=1
case "$alloc" in
hakmem)
    [ "$api" = 1 ] || preload=$(cd "$(dirname "$bin")" && pwd)/libhakmem.so ;;
system) ;;
mimalloc) need_pkg libmimalloc.so.2 libmimalloc2.0 ;;
jemalloc) need_pkg libjemalloc.so.2 libjemalloc2 ;;
tcmalloc) need_pkg libtcmalloc_minimal.so.4 libtcmalloc-minimal4 ;;
*) echo "ALLOC must be hakmem, system, mimalloc, jemalloc or tcmalloc" >&2; exit 2 ;;
esac
if [ "$api" = 1 ] && [ "$alloc" != hakmem ]; then
    echo "this build calls hakmem directly; ALLOC=$alloc needs VARIANT=release" >&2
    exit 2
fi
LD_PRELOAD=$preload LARSON_ALLOCATOR=$alloc "$bin" threads="$threads" seconds="$seconds" check="$check" \
    rounds="$rounds"
