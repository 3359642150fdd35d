#!/usr/bin/env bash
# tools/deps.sh GROUP... — make sure the Debian packages a task needs are installed.
# Groups: build, qemu, bochs, bochs3, test, image, linux.  Silent when nothing is missing; as
# root it installs what is (apt-get); otherwise it prints the one command that would, and fails.
# bochs3 is Bochs 3.0 (Debian 13's, with VT-x posted-interrupt processing): on a Debian 13 host
# its packages; elsewhere a minimal Debian 13 root built once with mmdebstrap in
# $VSCHED_BOCHS3_ROOT (default /var/cache/vsched/bochs3, shared by every checkout), which
# tools/run-bochs runs with chroot.
set -euo pipefail
[[ ${1:-} == -h || ${1:-} == --help ]] && { sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0"; exit 0; }   # the header above

declare -A GROUP=(
    [build]="gcc make binutils gnu-efi"
    [qemu]="qemu-system-x86 ovmf"
    [bochs]="bochs bochsbios vgabios seabios ovmf"
    [bochs3]=""
    [test]="libcmocka-dev valgrind gnuplot-nox tmux clang libclang-rt-14-dev"
    [image]="mtools dosfstools"
    [linux]="acpica-tools cpio xz-utils" # + the guest's packages: tools/fetch-linux, below
)

[[ $# -gt 0 ]] || { echo "usage: deps.sh GROUP... (${!GROUP[*]})" >&2; exit 2; }
want=() bochs3=''
for g in "$@"; do
    [[ -n "${GROUP[$g]+set}" ]] || { echo "deps.sh: unknown group '$g' (${!GROUP[*]})" >&2; exit 2; }
    read -ra pkgs <<< "${GROUP[$g]}"
    want+=("${pkgs[@]}")
    [[ $g != bochs3 ]] || bochs3=1
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

# Bochs 3.0: the host's own on Debian 13 and later, else a Debian 13 root (built after the host
# packages, with mmdebstrap from them).
root3=${VSCHED_BOCHS3_ROOT:-/var/cache/vsched/bochs3}
need_root3=''
if [[ -n $bochs3 ]]; then
    if dpkg --compare-versions "$(cat /etc/debian_version 2>/dev/null || echo 0)" ge 13 2>/dev/null ||
       [[ $(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") == trixie ]]; then
        want+=(bochs bochs-term bochsbios vgabios ovmf)
    elif [[ ! -f $root3/.vsched-bochs3 ]]; then
        want+=(mmdebstrap)
        need_root3=1
    fi
fi
[[ ${#want[@]} -gt 0 || -n $need_root3 ]] || { fetch_linux "$@"; exit; }

# dpkg-query's status, not just `dpkg -s` succeeding: a removed-but-not-purged package is
# still known to dpkg (state "deinstall ok config-files") yet not installed.
missing=()
for p in $(printf '%s\n' "${want[@]}" | sort -u); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 && -z $need_root3 ]] && { fetch_linux "$@"; exit; }

if [[ $(id -u) -ne 0 ]]; then
    [[ ${#missing[@]} -eq 0 ]] || echo "run: sudo apt-get install -y ${missing[*]}"
    # The root needs root once; afterwards run-bochs uses it from any account (through a
    # user namespace).  Without sudo: build one where you can write, and point at it.
    [[ -z $need_root3 ]] ||
        echo "run: sudo tools/deps.sh bochs3   (or, as yourself: VSCHED_BOCHS3_ROOT=\$HOME/bochs3" \
             "tools/deps.sh bochs3 after installing mmdebstrap and uidmap)"
    [[ -n $need_root3 && ${#missing[@]} -eq 0 && -n ${VSCHED_BOCHS3_ROOT:-} &&
       -w $(dirname "$root3") ]] || exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "deps.sh: installing ${missing[*]}"
    # Other users of this machine may hold the dpkg lock for a while: wait for it.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" \
        >/dev/null
fi
[[ -n $need_root3 ]] || { fetch_linux "$@"; exit; }

# Bochs 3.0 in a minimal Debian 13 root: only what bochs needs to run headless (bochs-term
# satisfies its display-plugin dependency; vsched uses the built-in rfb display), OVMF and the
# VGA BIOS, no recommends, no documentation.  Built next to its final place and renamed when
# complete, so an interrupted build leaves nothing that looks usable; the stamp says it is.
echo "deps.sh: building a Debian 13 root with Bochs 3.0 in $root3 (about 1 minute, 210 MiB)"
mkdir -p "$(dirname "$root3")"
tmp="$root3.tmp.$$"
rm -rf "$tmp"
mode=root
[[ $(id -u) -eq 0 ]] || mode=unshare
if ! mmdebstrap --quiet --mode=$mode --variant=apt \
        --include=bochs,bochs-term,bochsbios,vgabios,ovmf \
        --aptopt='APT::Install-Recommends "false"' \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        trixie "$tmp" "${VSCHED_DEBIAN_MIRROR:-http://deb.debian.org/debian}" > "$tmp.log" 2>&1; then
    tail -n 20 "$tmp.log" >&2
    echo "deps.sh: building the Bochs 3.0 root failed (log: $tmp.log)" >&2
    rm -rf "$tmp"
    exit 1
fi
rm -f "$tmp.log"
mkdir -p "$tmp/vsched-work"   # run-bochs bind-mounts each run's work directory here
version=$(dpkg-query --admindir="$tmp/var/lib/dpkg" -W -f='${Version}' bochs)
echo "bochs $version" > "$tmp/.vsched-bochs3"
rm -rf "$root3"
mv "$tmp" "$root3"
echo "deps.sh: Bochs $version ready in $root3"
fetch_linux "$@"
