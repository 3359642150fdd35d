/* The harnesses' oracle check: a broken one says which (file, line, condition), then stops,
 * and libFuzzer keeps the input. */
#ifndef VSCHED_FUZZ_ORACLE_H
#define VSCHED_FUZZ_ORACLE_H

#include <stdio.h>
#include <stdlib.h>

#define check(ok)                                                                           \
    do {                                                                                    \
        if (!(ok)) {                                                                        \
            fprintf(stderr, "oracle failed: %s:%d: %s\n", __FILE__, __LINE__, #ok);         \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

#endif
