/* vmlinux-extract [--full] BZIMAGE OUT [CONFIG] — unpack a Linux bzImage's kernel to its ELF
 * vmlinux.
 *
 * The setup header (read by vmm/linux_boot.c, the same code the VMM boots kernels with) says
 * where the compressed kernel is (payload_offset/payload_length, boot protocol 2.08+); it must
 * be xz (Debian's x86 kernels are), which `xz -dc --single-stream` decompresses (the build
 * appends the uncompressed size after the stream).  The result must pass lx_inspect as a
 * vmlinux.  OUT is, by default, the compact form of it: the ELF header, the program headers,
 * each PT_LOAD's bytes without their trailing zeros (p_filesz shrinks, p_memsz stays: the
 * loader zero-fills, as for .bss) and the notes — no section headers.  For Debian's 6.1 kernel
 * that is 35 MB instead of 65 MB (the init segment ends in 23 MB of zeroed brk/bss), which
 * is what the VMM reads from the ESP at boot (slow under Bochs).  --full writes the ELF as the
 * kernel build made it, without what follows its own extent (the relocation table the
 * decompressor would use).  Prints the facts: protocol, version, PT_LOADs, entry, sizes, and —
 * given the kernel's CONFIG file — the options a vsched guest relies on.
 * Exit 0, or 1 with one line on stderr saying what is wrong. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/le.h"
#include "vmm/linux_boot.h"

static const unsigned char xz_magic[6] = { 0xfd, '7', 'z', 'X', 'Z', 0x00 };

static void die(const char *what)
{
    fprintf(stderr, "vmlinux-extract: %s\n", what);
    exit(1);
}

static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "vmlinux-extract: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    size_t cap = 1 << 20, n = 0;
    unsigned char *b = malloc(cap);
    for (size_t got; b && (got = fread(b + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap)
            b = realloc(b, cap *= 2);
    }
    if (!b || ferror(f))
        die("cannot read the input");
    fclose(f);
    *size = n;
    return b;
}

/* Run `xz -dc --single-stream` with IN on its standard input; its output, malloc'd. */
static unsigned char *xz_decompress(const unsigned char *in, size_t len, size_t *out_len)
{
    int to[2], from[2];
    if (pipe(to) < 0 || pipe(from) < 0)
        die("pipe failed");
    pid_t pid = fork();
    if (pid < 0)
        die("fork failed");
    if (pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[0]); close(to[1]); close(from[0]); close(from[1]);
        execlp("xz", "xz", "-dc", "--single-stream", (char *)NULL);
        fprintf(stderr, "vmlinux-extract: cannot run xz (tools/deps.sh linux): %s\n",
                strerror(errno));
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    /* A writer child, so that neither pipe can fill up while the other waits. */
    pid_t writer = fork();
    if (writer == 0) {
        close(from[0]);
        for (size_t off = 0; off < len;) {
            ssize_t w = write(to[1], in + off, len - off);
            if (w <= 0)
                _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    close(to[1]);
    size_t cap = 64 << 20, n = 0;
    unsigned char *b = malloc(cap);
    for (ssize_t got; b && (got = read(from[0], b + n, cap - n)) > 0;) {
        n += (size_t)got;
        if (n == cap)
            b = realloc(b, cap *= 2);
    }
    close(from[0]);
    int st, wst;
    waitpid(writer, &wst, 0);
    waitpid(pid, &st, 0);
    if (!b || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("xz could not decompress the payload");
    *out_len = n;
    return b;
}

/* The value of each option a vsched Linux guest relies on, from the kernel's config file. */
static void print_config(const char *path)
{
    static const char *const want[] = {
        "CONFIG_PVH", "CONFIG_X86_X2APIC", "CONFIG_KVM_GUEST", "CONFIG_PARAVIRT",
        "CONFIG_SERIAL_8250_CONSOLE", "CONFIG_ACPI", "CONFIG_HZ", "CONFIG_RELOCATABLE",
        "CONFIG_RANDOMIZE_BASE", "CONFIG_PHYSICAL_START", "CONFIG_JAILHOUSE_GUEST",
        "CONFIG_VIRTIO_BLK", "CONFIG_RD_GZIP", "CONFIG_DEVTMPFS",
    };
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "vmlinux-extract: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    char line[512];
    char found[sizeof(want) / sizeof(want[0])][64];
    memset(found, 0, sizeof(found));
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
            size_t n = strlen(want[i]);
            if (!strncmp(line, want[i], n) && line[n] == '=')
                snprintf(found[i], sizeof(found[i]), "%s", line + n + 1);
            else if (!strncmp(line, "# ", 2) && !strncmp(line + 2, want[i], n) &&
                     !strcmp(line + 2 + n, " is not set"))
                snprintf(found[i], sizeof(found[i]), "n");
        }
    }
    fclose(f);
    printf("config:");
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        printf(" %s=%s", want[i], found[i][0] ? found[i] : "n");
    printf("\n");
}

/* The compact ELF (see the top): returns its size, the bytes in *OUT (malloc'd). */
static size_t compact_elf(const unsigned char *elf, size_t len, unsigned char **out)
{
    uint64_t phoff = le_get(elf + 32, 8), phnum = le_get(elf + 56, 2);
    size_t hdr = 64 + phnum * 56, at = (hdr + 15) & ~(size_t)15;
    unsigned char *b = calloc(1, len + phnum * 16 + 64);
    if (!b)
        die("out of memory");
    memcpy(b, elf, 64);
    le_put(b + 32, 64, 8);          /* program headers right after the ELF header */
    le_put(b + 40, 0, 8);           /* no section headers */
    le_put(b + 58, 0, 2);
    le_put(b + 60, 0, 2);
    le_put(b + 62, 0, 2);
    memcpy(b + 64, elf + phoff, phnum * 56);
    /* PT_LOADs first (their new offsets are needed to place notes that lie inside them). */
    uint64_t old_off[64], new_off[64], old_size[64];
    for (uint64_t i = 0; i < phnum && i < 64; i++) {
        unsigned char *ph = b + 64 + i * 56;
        old_off[i] = le_get(ph + 8, 8);
        old_size[i] = le_get(ph + 32, 8);
        new_off[i] = 0;
        if (le_get(ph, 4) != 1)
            continue;
        uint64_t n = old_size[i];
        while (n && elf[old_off[i] + n - 1] == 0)
            n--;
        memcpy(b + at, elf + old_off[i], n);
        new_off[i] = at;
        le_put(ph + 8, at, 8);
        le_put(ph + 32, n, 8);
        at = (at + n + 15) & ~(size_t)15;
    }
    for (uint64_t i = 0; i < phnum && i < 64; i++) {
        unsigned char *ph = b + 64 + i * 56;
        if (le_get(ph, 4) == 1)
            continue;
        /* Inside a kept PT_LOAD's bytes: point there; else copy it after them. */
        bool placed = false;
        for (uint64_t j = 0; j < phnum && j < 64 && !placed; j++) {
            unsigned char *lj = b + 64 + j * 56;
            if (le_get(lj, 4) == 1 && old_off[i] >= old_off[j] &&
                old_off[i] + old_size[i] <= old_off[j] + le_get(lj + 32, 8)) {
                le_put(ph + 8, new_off[j] + (old_off[i] - old_off[j]), 8);
                placed = true;
            }
        }
        if (!placed && old_size[i]) {
            memcpy(b + at, elf + old_off[i], old_size[i]);
            le_put(ph + 8, at, 8);
            at = (at + old_size[i] + 15) & ~(size_t)15;
        }
    }
    *out = b;
    return at;
}

static const char help[] =
    "usage: vmlinux-extract [--full] BZIMAGE OUT [CONFIG]\n"
    "Unpacks a Linux bzImage's xz payload to its ELF vmlinux OUT (compact: PT_LOADs without\n"
    "their trailing zeros, no section headers) and prints the kernel's facts; with CONFIG (the\n"
    "kernel's config file) also the options a vsched guest relies on (docs/linux.md).\n"
    "  --full      the ELF as the kernel build made it\n"
    "  -h, --help  this text\n"
    "Exit status: 0; 1 a bad or unreadable kernel; 2 usage.\n";

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "full", no_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool full = false;
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'f': full = true; break;
        case 'h': fputs(help, stdout); return 0;
        default: fputs(help, stderr); return 2;
        }
    }
    argv += optind - 1; /* argv[1..]: the operands */
    argc -= optind - 1;
    if (argc < 3 || argc > 4) {
        fputs(help, stderr);
        return 2;
    }
    size_t size;
    unsigned char *bz = read_file(argv[1], &size);
    struct lx_kernel k;
    char err[200];
    if (lx_inspect(bz, size, &k, err, sizeof(err)) < 0)
        die(err);
    if (k.kind != LX_BZIMAGE)
        die("the input is not a bzImage");
    const unsigned char *payload = bz + k.setup_size + k.payload_offset;
    if (k.payload_length < sizeof(xz_magic) || memcmp(payload, xz_magic, sizeof(xz_magic)))
        die("the bzImage's payload is not xz-compressed (only xz is supported)");
    const char *version = k.kernel_version_off ? (const char *)bz + k.kernel_version_off : "?";
    printf("bzimage: %s, %zu bytes, boot protocol %u.%02u, version \"%.*s\"\n", argv[1], size,
           k.protocol >> 8, k.protocol & 0xff,
           (int)strnlen(version, 120), version);
    printf("bzimage: 64-bit entry 0x%lx, pref_address 0x%lx, init_size 0x%x, kernel_alignment "
           "0x%lx, initrd_addr_max 0x%lx, cmdline_size %u\n", (unsigned long)k.entry,
           (unsigned long)k.start, k.init_size, (unsigned long)k.kernel_alignment,
           (unsigned long)k.initrd_addr_max, k.cmdline_max - 1);

    size_t raw_len;
    unsigned char *raw = xz_decompress(payload, k.payload_length, &raw_len);
    printf("payload: xz at file offset 0x%x, %u bytes -> %zu bytes\n",
           k.setup_size + k.payload_offset, k.payload_length, raw_len);
    struct lx_kernel v;
    if (lx_inspect(raw, raw_len, &v, err, sizeof(err)) < 0)
        die(err);
    if (v.kind != LX_VMLINUX)
        die("the payload is not an ELF vmlinux");
    printf("vmlinux: ELF x86-64, entry 0x%lx (startup_64, physical), %lu bytes (%zu after the "
           "ELF dropped)\n", (unsigned long)v.entry, (unsigned long)v.file_end,
           raw_len - (size_t)v.file_end);
    printf("vmlinux: needs [0x%lx, 0x%lx) = %lu to %lu MiB\n", (unsigned long)v.start,
           (unsigned long)v.end, (unsigned long)(v.start >> 20),
           (unsigned long)((v.end + 0xfffff) >> 20));
    for (uint32_t i = 0; i < v.nsegments; i++)
        printf("vmlinux: PT_LOAD %u: paddr 0x%lx filesz 0x%lx memsz 0x%lx\n", i,
               (unsigned long)v.segments[i].gpa, (unsigned long)v.segments[i].file_size,
               (unsigned long)v.segments[i].mem_size);
    if (argc == 4)
        print_config(argv[3]);

    unsigned char *bytes = raw;
    size_t out_len = v.file_end;
    if (!full) {
        out_len = compact_elf(raw, v.file_end, &bytes);
        struct lx_kernel c;
        if (lx_inspect(bytes, out_len, &c, err, sizeof(err)) < 0 || c.entry != v.entry ||
            c.start != v.start || c.end != v.end || c.nsegments != v.nsegments)
            die("the compact vmlinux does not describe the same kernel (a bug)");
        printf("vmlinux: compact form %zu bytes (PT_LOADs without trailing zeros, no sections)\n",
               out_len);
    }
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
    FILE *out = fopen(tmp, "wb");
    if (!out || fwrite(bytes, 1, out_len, out) != out_len || fclose(out) != 0)
        die("cannot write the output");
    if (rename(tmp, argv[2]) < 0)
        die("cannot rename the output");
    if (bytes != raw)
        free(bytes);
    free(raw);
    free(bz);
    return 0;
}
