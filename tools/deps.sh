#!/usr/bin/env bash
# tools/deps.sh GROUP... — make sure the Debian packages a task needs are installed.
# Groups: build, qemu, bochs, test, image, linux.  Silent when nothing is missing; as root it installs
# what is (apt-get); otherwise it prints the one command that would, and fails.
set -euo pipefail
[[ ${1:-} == -h || ${1:-} == --help ]] && { sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0"; exit 0; }   # the header above

declare -A GROUP=(
    [build]="gcc make binutils gnu-efi"
    [qemu]="qemu-system-x86 ovmf"
    [bochs]="bochs bochsbios vgabios seabios ovmf"
    [test]="libcmocka-dev valgrind gnuplot-nox tmux"
    [image]="mtools dosfstools"
    [linux]="acpica-tools cpio xz-utils" # + the guest's packages: tools/fetch-linux, below
)

[[ $# -gt 0 ]] || { echo "usage: deps.sh GROUP... (${!GROUP[*]})" >&2; exit 2; }
want=()
for g in "$@"; do
    [[ -n "${GROUP[$g]:-}" ]] || { echo "deps.sh: unknown group '$g' (${!GROUP[*]})" >&2; exit 2; }
    read -ra pkgs <<< "${GROUP[$g]}"
    want+=("${pkgs[@]}")
done

# linux: the Linux guest's packages are downloaded and unpacked, never installed (fetch-linux).
# Unreachable packages (its exit 77, said on stderr) are not an error here: the tests that
# need them skip.
fetch_linux() {
    [[ " $* " == *" linux "* ]] || return 0
    local rc=0
    "$(dirname "$0")/fetch-linux" "${VSCHED_LINUX_PKGS:-}" || rc=$?
    [[ $rc -eq 77 ]] && return 0
    return $rc
}

# dpkg-query's status, not just `dpkg -s` succeeding: a removed-but-not-purged package is
# still known to dpkg (state "deinstall ok config-files") yet not installed.
missing=()
for p in $(printf '%s\n' "${want[@]}" | sort -u); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then fetch_linux "$@"; exit; fi

if [[ $(id -u) -ne 0 ]]; then
    echo "run: sudo apt-get install -y ${missing[*]}"
    exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fetch_linux "$@"
