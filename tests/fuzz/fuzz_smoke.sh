#!/usr/bin/env bash
# Every fuzz harness for a fixed number of inputs from a fixed seed (tests/fuzz/run.sh); skips
# (exit 77) only if clang's libFuzzer is missing, which tools/deps.sh test installs.
cd "$(dirname "$0")/../.." || exit 1
build=${BUILD:-build}
for n in fuzz_config fuzz_elf fuzz_proto; do
    if [[ ! -x "$build/fuzz/$n" ]]; then
        echo "SKIP: $build/fuzz/$n was not built (clang with libFuzzer missing?)"
        exit 77
    fi
done
exec tests/fuzz/run.sh --build "$build" --runs "${FUZZ_RUNS:-20000}"
