#!/usr/bin/env bash
# The hostile-guest suite on the VT-x backend (Bochs, corei7_skylake_x; emulated time, so
# deterministic): tests/hostile/hostile_common.sh.  Bounds: tests/hostile/README.md.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/hostile_common.sh"
BOOT=boot_bochs EXTRA=() PROBES_EXTRA=() CPU_CHECKS_RESERVED=1 UART_AT_BAUD_RATE=1
VICTIM_SHARE_MIN_PERMILLE=${VICTIM_SHARE_MIN_PERMILLE:-950}
TIMER_P99_MAX_US=${TIMER_P99_MAX_US:-1000}
hostile_probes
hostile_interference
hostile_console
