#!/usr/bin/env bash
# Debian's Linux kernel in a 2-vCPU vsched VM under QEMU/SVM, a hog and a COM1 spy beside it
# (tests/configs/linux_input.cfg): the kernel boots, brings up its second CPU with
# INIT-SIPI-SIPI, sees the x2APIC, the TSC-deadline timer and KVM's clock, /init reads console
# input the host sent with the input command and prints it back, runs cyclictest and reports
# the steal time, `poweroff -f` ends the VM with outcome poweroff, and the hog's result is
# whole.  Console input (docs/protocol.md, cmd=input): eight lines sent while the kernel
# boots (the guest reads nothing for seconds) wait in the VMM, a ninth is refused (the queue is
# full) and the VMM, the hog and the spy go on; input for a VM without a UART, for no VM, and
# with a bad escape is refused; a line typed on vsched-ctl session --input arrives; the spy, a test guest reading its own COM1 all the while,
# never sees a byte.  ~30 s on the build machine.  SKIP when Debian's packages cannot be
# downloaded.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/linux_common.sh"
source "$(dirname "$0")/sched_common.sh"
BOOT=boot_qemu EXTRA=(--mem 1024)

linux_files
esp=$(make_esp "$WORK/esp" tests/configs/linux_input.cfg "$LINUX_VMLINUX" "$LINUX_INITRD" \
      "$GUEST_DIR/hog.elf" "$GUEST_DIR/hostile.elf")
x120=$(printf 'x%.0s' {1..120})
flood=(--send-after 'type=hello ' "input id=1 vm=lx1 text=$x120 nl=1")
for i in 2 3 4 5 6 7 8 9; do
    flood+=(--send-after "cmd=input id=$((i - 1))" "input id=$i vm=lx1 text=$x120 nl=1")
done
log=$WORK/linux.log
# The line the guest waits for comes as a person types it: on session --input's stdin, once
# the guest says it reads.
type_line() {
    local i
    for ((i = 0; i < 600; i++)); do
        grep -q 'type=input_ready' "$log" 2> /dev/null && break
        sleep 0.5
    done
    echo 'hello "from" the host'
}
start=$SECONDS
type_line | session "$log" "$esp" 2 --input lx1 "${flood[@]}" \
    --send-after 'cmd=input id=9' 'input id=10 vm=spy text=x' \
    --send-after 'cmd=input id=10' 'input id=11 vm=nosuch text=x' \
    --send-after 'cmd=input id=11' '@vs2 cmd=input id=12 vm=lx1 hex=6'
rc=$?
echo "boot: $((SECONDS - start)) s"
expect_status $rc 0
check_linux_boot "$log" 4
check_linux_steal "$log"

# The host's commands: 8 x 121 bytes queued, the ninth refused whole (968 waiting, the queue
# and the FIFO hold 1040), errors for the rest, and the line the guest waits for.
for i in 1 2 3 4 5 6 7 8; do
    expect_line "$log" "^@vs2 seq=[0-9]+ type=ok cmd=input id=$i vm=lx1 bytes=121\$"
done
expect_line "$log" '^@vs2 seq=[0-9]+ type=error cmd=input id=9 msg="input of VM lx1 full: 968 bytes not read yet \(it holds 1040\)"$'
expect_line "$log" '^@vs2 seq=[0-9]+ type=error cmd=input id=10 msg="VM spy has no UART \(not a Linux VM\)"$'
expect_line "$log" '^@vs2 seq=[0-9]+ type=error cmd=input id=11 msg="no VM named nosuch"$'
expect_line "$log" '^@vs2 seq=[0-9]+ type=error cmd=input id=12 msg="value of .hex. is not pairs of hex digits"$'
expect_line "$log" '^@vs2 seq=[0-9]+ type=ok cmd=input id=1000000 vm=lx1 bytes=22$'

# The guest read them in order: the first line loses its head to the FIFO resets of the 8250
# driver's probe and startup (as on the chip: a reset empties the FIFO; measured: 70 of its
# 120 bytes; bound: one more FIFO's 16 bytes lost), the other seven are whole, then the
# host's line.
got=$(sed -n 's/^\[lx1\] got: //p' "$log")
echo "guest read: $(wc -l <<< "$got") lines; the first $(head -n 1 <<< "$got" | wc -c) bytes"
[[ $(wc -l <<< "$got") -eq 9 ]] || fail "the guest printed $(wc -l <<< "$got") 'got:' lines, expected 9"
head -n 1 <<< "$got" | grep -Eqx 'x{34,120}' || fail "first line read: '$(head -n 1 <<< "$got")'"
[[ $(sed -n 2,8p <<< "$got" | grep -cx "$x120") -eq 7 ]] || fail "lines 2-8 read are not 120 x each"
[[ $(sed -n 9p <<< "$got") == 'hello "from" the host' ]] || fail "last line read: '$(sed -n 9p <<< "$got")'"
expect_line "$log" '^\[lx1\] @lx1 type=input lines=9 bytes=[0-9]+$'
echo "ok: the guest read the 8 queued lines and the host's line"

# The spy read its COM1 while lx1's input waited, and saw none of it.
expect_line "$log" '^\[spy\] hostile com1_spy: [1-9][0-9]* reads, data ready 0, bytes 0 -> all as expected$'
expect_order "$log" 'type=ok cmd=input id=8 ' '^\[spy\] hostile com1_spy: '
expect_line "$log" '^outcome spy: exited status=0 expect=exit ok$'
