#!/usr/bin/env bash
# The hostile-guest suite on the SVM backend (QEMU TCG): tests/hostile/hostile_common.sh.
# QEMU's time is the host's (noisy on a loaded 2-core host), so the bounds are wider than
# Bochs': see tests/hostile/README.md for how they were measured.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/hostile_common.sh"
BOOT=boot_qemu EXTRA=()
# QEMU 7.2's TCG hangs at the MOV to CR4 that sets OSXSAVE unless XSAVEOPT is there too.
PROBES_EXTRA=(--cpu qemu64,+svm,+npt,+xsave,+avx,+xsaveopt)
VICTIM_SHARE_MIN_PERMILLE=${VICTIM_SHARE_MIN_PERMILLE:-600}
TIMER_P99_MAX_US=${TIMER_P99_MAX_US:-40000}
hostile_probes
hostile_interference
hostile_console
