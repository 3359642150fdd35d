#!/usr/bin/env bash
# A Linux VM's files under QEMU: a kernel that is missing, that is not a Linux kernel, or that
# does not fit in the VM's memory, or an initrd that is missing, stops the boot with one
# configuration error naming file, line and problem, status 2, before any application
# processor starts; the files are read from the ESP and checked by boot/ (vmm/linux_boot.c).
# The kernels here are small stand-ins (a test guest; a hand-made ELF with Linux's note), so
# the test needs no download.  (An initrd that does not fit takes the same path, with its own
# message: tests/unit/test_linux_boot.c.)
source "$(dirname "$0")/lib.sh"

# A vmlinux-shaped ELF: one PT_LOAD at physical 16 MiB of MEM_MB MiB (no file bytes), entry
# there, and a PT_NOTE with Xen's GUEST_OS "linux" note, as every x86 vmlinux has.
le() { local v=$1 n=$2 i; for ((i = 0; i < n; i++)); do printf "\\x$(printf %02x $(((v >> (8 * i)) & 255)))"; done; }
fake_vmlinux() { # file mem_mb
    local f=$1 mem=$(($2 << 20)) base=$((16 << 20))
    {
        printf '\x7fELF\x02\x01\x01'; le 0 9
        le 2 2; le 62 2; le 1 4; le $base 8; le 64 8; le 0 8; le 0 4; le 64 2; le 56 2; le 2 2
        le 64 2; le 0 2; le 0 2
        # PT_LOAD: type, flags, offset, vaddr, paddr, filesz, memsz, align
        le 1 4; le 5 4; le 0 8; le $((0xffffffff81000000)) 8; le $base 8; le 0 8; le $mem 8; le 4096 8
        # PT_NOTE at offset 176, 24 bytes
        le 4 4; le 4 4; le 176 8; le 0 8; le 0 8; le 24 8; le 24 8; le 4 8
        le 4 4; le 6 4; le 6 4; printf 'Xen\0linux\0\0\0'
    } > "$f"
}

check() { # name, config text, expected error line (regex), files...
    local name=$1 text=$2 want=$3
    shift 3
    printf '%s\n' "$text" > "$WORK/$name.cfg"
    local esp; esp=$(make_esp "$WORK/$name" "$WORK/$name.cfg" "$@")
    boot_qemu "$WORK/$name.log" --esp "$esp" --smp 2
    expect_status $? 2
    expect_line "$WORK/$name.log" "$want"
    expect_count "$WORK/$name.log" 'error:' 1
    expect_no_line "$WORK/$name.log" '^cpu [0-9]+ online'
    expect_line "$WORK/$name.log" '^halt: status=2$'
}

check missing $'[vm lx]\nmemory_mb = 128\nkernel = vmlinux\n' \
    "^vsched.cfg:1: error: \[vm lx\] kernel 'vmlinux': not found\$"

cp "$GUEST_DIR/hello.elf" "$WORK/vmlinux"
check not_linux $'[vm lx]\nmemory_mb = 128\nkernel = vmlinux\n' \
    "^vsched.cfg:1: error: \[vm lx\] kernel 'vmlinux': not a Linux kernel: an ELF file without Linux's ELF notes\$" \
    "$WORK/vmlinux"

mkdir -p "$WORK/big"
fake_vmlinux "$WORK/big/vmlinux" 58
check too_large $'[vm web]\nimage = hello.elf\n[vm lx]\nmemory_mb = 64\nkernel = vmlinux\n' \
    "^vsched.cfg:3: error: \[vm lx\] kernel 'vmlinux': kernel too large for memory: it needs \[0x1000000, 0x4a00000\) \(74 MiB\), the VM has RAM up to 0x4000000 \(64 MiB\)\$" \
    "$WORK/big/vmlinux" "$GUEST_DIR/hello.elf"

# A kernel that fits but an initrd the ESP does not have: its own error, nothing starts.
mkdir -p "$WORK/ok"
fake_vmlinux "$WORK/ok/vmlinux" 58
check initrd_missing $'[vm lx]\nmemory_mb = 128\nkernel = vmlinux\ninitrd = initramfs.cpio.gz\n' \
    "^vsched.cfg:1: error: \[vm lx\] initrd 'initramfs.cpio.gz': not found\$" \
    "$WORK/ok/vmlinux"
