#!/usr/bin/env bash
# The installed package, as an embedder sees it: `cmake --install` into a
# temporary prefix, which is then moved (the package must be relocatable);
# examples/embed built against it with find_package(bpfkit) and, for the C
# example, with pkg-config alone; each program run and its output checked.
#
# A sanitized build (BPFKIT_SANITIZE) installs sanitized libraries, and its
# package carries -fsanitize in its link flags (CMake target and bpfkit.pc),
# so the same test runs there, with the build's own compilers.
#
# usage: install_test.sh BUILD_DIR SOURCE_DIR LIBDIR C_COMPILER CXX_COMPILER
set -euo pipefail
build=$1 source=$2 libdir=$3 cc=$4 cxx=$5

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$work/log

# Runs a command quietly; on failure prints its output and stops.
quiet() {
  if ! "$@" >"$log" 2>&1; then
    echo "FAILED: $*" >&2
    cat "$log" >&2
    exit 1
  fi
}

# expect OUTPUT COMMAND...: the command succeeds and prints exactly OUTPUT.
expect() {
  local want=$1 got
  shift
  got=$("$@")
  if [ "$got" != "$want" ]; then
    printf 'FAILED: %s\n  printed:  %s\n  expected: %s\n' "$*" "$got" "$want" >&2
    exit 1
  fi
  echo "ok: $*"
}

quiet cmake --install "$build" --prefix "$work/staged"
mv "$work/staged" "$work/prefix"
prefix=$work/prefix

# Nothing installed may point back into the build or source trees.
if grep -rlF -e "$build" -e "$source" "$prefix/$libdir/cmake" "$prefix/$libdir/pkgconfig"; then
  echo "FAILED: the package names the build or source directory" >&2
  exit 1
fi

expect "0x2a" "$prefix/bin/bpfkit" run "$source/examples/answer.hex"

for example in c cpp; do
  quiet cmake -S "$source/examples/embed/$example" -B "$work/build-$example" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx"
  quiet cmake --build "$work/build-$example"
done
expect "r0 = 533 (3 instructions, 1 helper call)" "$work/build-c/embed_c"
expect "r0 = 3628800 (33 instructions)" "$work/build-cpp/embed_cpp"

# pkg-config alone, from the C compiler's command line.
export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
# shellcheck disable=SC2046  # pkg-config's flags are meant to be split
quiet "$cc" -std=c11 -Wall -Wextra -pedantic -Werror "$source/examples/embed/c/embed.c" \
  $(pkg-config --cflags --libs bpfkit) -o "$work/embed_c_pkgconfig"
expect "r0 = 533 (3 instructions, 1 helper call)" "$work/embed_c_pkgconfig"
