#!/usr/bin/env bash
# Configuration handling under QEMU: no file boots with defaults; pcpus limits the CPUs; every
# kind of bad file stops the boot with one line naming file, line and problem, and status 2,
# before any application processor is started (nothing half-applied).
source "$(dirname "$0")/lib.sh"

esp=$(make_esp "$WORK/none" "")
boot_qemu "$WORK/none.log" --esp "$esp" --smp 2
expect_status $? 0
expect_line "$WORK/none.log" '^config: no vsched.cfg on the ESP, using defaults$'
expect_line "$WORK/none.log" '^config: none \(defaults\), policy=credit timeslice_us=30000, 0 VM\(s\)$'
expect_line "$WORK/none.log" '^cpus: 2 of 2 online$'

esp=$(make_esp "$WORK/pcpus" tests/configs/pcpus2.cfg)
boot_qemu "$WORK/pcpus.log" --esp "$esp" --smp 4
expect_status $? 0
expect_line "$WORK/pcpus.log" '^cpus: 4 described by UEFI MP services, using 2, bootstrap apic=0$'
expect_count "$WORK/pcpus.log" '^cpu [0-9]+ online' 2
expect_line "$WORK/pcpus.log" '^cpus: 2 of 2 online$'

check_bad() { # config, expected error line (regex)
    local name; name=$(basename "$1" .cfg)
    local esp; esp=$(make_esp "$WORK/$name" "$1")
    boot_qemu "$WORK/$name.log" --esp "$esp" --smp 2
    expect_status $? 2
    expect_line "$WORK/$name.log" "$2"
    expect_count "$WORK/$name.log" 'error:' 1
    expect_no_line "$WORK/$name.log" '^cpu [0-9]+ online'
    expect_line "$WORK/$name.log" '^halt: status=2$'
}
check_bad tests/configs/bad_unknown_key.cfg "^vsched.cfg:4: error: unknown key 'polcy' in \[machine\]\$"
check_bad tests/configs/bad_range.cfg "^vsched.cfg:6: error: value of 'weight' is out of range\$"
check_bad tests/configs/bad_syntax.cfg "^vsched.cfg:3: error: section header without ']'\$"
check_bad tests/configs/bad_policy.cfg "^vsched.cfg:2: error: unknown policy 'bogus'\$"
check_bad tests/configs/bad_image.cfg "^vsched.cfg:4: error: \[vm ghost\] image 'missing.elf': not found\$"
printf '[machine]\npcpus = 4\n' > "$WORK/too_many.cfg"
esp=$(make_esp "$WORK/too_many" "$WORK/too_many.cfg")
boot_qemu "$WORK/too_many.log" --esp "$esp" --smp 2
expect_status $? 2
expect_line "$WORK/too_many.log" '^vsched.cfg: error: pcpus = 4 but the machine has 2 CPU\(s\)$'
