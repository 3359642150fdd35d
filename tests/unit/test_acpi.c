/* Unit tests for the hardware-reduced ACPI tables (vmm/acpi.c).  Beyond our own reading of the
 * bytes, the oracle is ACPICA's disassembler: each table is written to a file and `iasl -d`
 * (Debian's acpica-tools, tools/deps.sh linux) must decode it to the fields we mean, with no
 * checksum complaint.  (iasl does not take an RSDP alone; its two checksums are checked here.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/acpi.h"

#define GPA 0xe0000ull

static uint8_t buf[0x20000];

static uint64_t rd(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static const uint8_t *at(uint64_t gpa)
{
    return buf + (gpa - GPA);
}

static uint8_t sum(const uint8_t *p, uint32_t n)
{
    uint8_t s = 0;
    for (uint32_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

static void build(uint32_t vcpus, struct acpi_tables *t)
{
    char err[160];
    memset(buf, 0xcc, sizeof(buf));
    assert_int_equal(acpi_build(buf, sizeof(buf), GPA, vcpus, t, err, sizeof(err)), 0);
}

static void test_pointers_and_checksums(void **state)
{
    (void)state;
    struct acpi_tables t;
    build(4, &t);
    assert_int_equal(t.rsdp_gpa, GPA);
    assert_int_equal(t.size, acpi_size(4));
    const uint8_t *r = at(t.rsdp_gpa);
    assert_memory_equal(r, "RSD PTR ", 8);
    assert_int_equal(r[15], 2);
    assert_int_equal(sum(r, 20), 0);
    assert_int_equal(sum(r, 36), 0);
    assert_int_equal(rd(r + 20, 4), 36);
    assert_int_equal(rd(r + 24, 8), t.xsdt_gpa);
    const uint8_t *x = at(t.xsdt_gpa);
    assert_memory_equal(x, "XSDT", 4);
    assert_int_equal(rd(x + 4, 4), 36 + 16);
    assert_int_equal(rd(x + 36, 8), t.fadt_gpa);
    assert_int_equal(rd(x + 44, 8), t.madt_gpa);
    const uint8_t *f = at(t.fadt_gpa);
    assert_memory_equal(f, "FACP", 4);
    assert_int_equal(rd(f + 4, 4), 276);
    assert_int_equal(f[8], 6);
    assert_int_equal(rd(f + 140, 8), t.dsdt_gpa);   /* X_DSDT */
    assert_int_equal(rd(f + 40, 4), t.dsdt_gpa);    /* DSDT */
    assert_true(rd(f + 112, 4) & (1u << 20));       /* HW_REDUCED_ACPI */
    assert_int_equal(rd(f + 109, 2), 0x24);         /* no VGA, no CMOS, no 8042 */
    /* Every table's bytes add up to 0. */
    const uint64_t tables[] = { t.xsdt_gpa, t.fadt_gpa, t.dsdt_gpa, t.madt_gpa };
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(sum(at(tables[i]), (uint32_t)rd(at(tables[i]) + 4, 4)), 0);
    /* Nothing written past the reported size. */
    for (uint32_t i = t.size; i < t.size + 64; i++)
        assert_int_equal(buf[i], 0xcc);
}

static void test_madt_one_x2apic_per_vcpu(void **state)
{
    (void)state;
    for (uint32_t n = 1; n <= 64; n *= 4) {
        struct acpi_tables t;
        build(n, &t);
        const uint8_t *m = at(t.madt_gpa);
        assert_int_equal(rd(m + 4, 4), 44 + 16 * n);
        assert_int_equal(rd(m + 36, 4), 0xfee00000u);
        assert_int_equal(rd(m + 40, 4), 0);          /* no PCAT_COMPAT: no 8259 */
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *e = m + 44 + 16 * i;
            assert_int_equal(e[0], 9);
            assert_int_equal(e[1], 16);
            assert_int_equal(rd(e + 4, 4), i);
            assert_int_equal(rd(e + 8, 4), 1);
            assert_int_equal(rd(e + 12, 4), i);
        }
        assert_int_equal(sum(m, 44 + 16 * n), 0);
    }
}

static void test_bad_input_refused(void **state)
{
    (void)state;
    struct acpi_tables t;
    char err[160];
    assert_int_equal(acpi_build(buf, sizeof(buf), GPA, 0, &t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "vCPUs"));
    assert_int_equal(acpi_build(buf, sizeof(buf), GPA + 8, 2, &t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "aligned"));
    memset(buf, 0xcc, 64);
    assert_int_equal(acpi_build(buf, acpi_size(2) - 1, GPA, 2, &t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "need"));
    assert_int_equal(buf[0], 0xcc);                  /* nothing written */
}

static void test_pm_ports(void **state)
{
    (void)state;
    assert_true(acpi_pm_port(ACPI_SLEEP_CTL_PORT));
    assert_true(acpi_pm_port(ACPI_RESET_PORT));
    assert_false(acpi_pm_port(ACPI_PM_PORT + ACPI_PM_PORTS));
    assert_false(acpi_pm_port(ACPI_PM_PORT - 1));
    /* What ACPICA writes for S5 in hardware-reduced mode: SLP_TYP << 2 | SLP_EN. */
    assert_int_equal(acpi_pm_write(ACPI_SLEEP_CTL_PORT, (5 << 2) | 0x20), ACPI_PM_POWEROFF);
    assert_int_equal(acpi_pm_write(ACPI_SLEEP_CTL_PORT, 5 << 2), ACPI_PM_NONE);   /* no SLP_EN */
    assert_int_equal(acpi_pm_write(ACPI_SLEEP_CTL_PORT, (3 << 2) | 0x20), ACPI_PM_NONE); /* S3 */
    assert_int_equal(acpi_pm_write(ACPI_SLEEP_STS_PORT, 0x80), ACPI_PM_NONE); /* WAK_STS clear */
    assert_int_equal(acpi_pm_write(ACPI_RESET_PORT, ACPI_RESET_VALUE), ACPI_PM_RESET);
    assert_int_equal(acpi_pm_write(ACPI_RESET_PORT, 0x06), ACPI_PM_NONE);
    assert_int_equal(acpi_pm_read(ACPI_SLEEP_STS_PORT), 0);
}

/* ---- iasl as the oracle ---- */

static char dir[64];

static char *disassemble(const char *name, uint64_t gpa)
{
    char path[128], cmd[512];
    snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint32_t len = (uint32_t)rd(at(gpa) + 4, 4);
    assert_int_equal(fwrite(at(gpa), 1, len, f), len);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "cd %s && iasl -d %s.dat > %s.out 2>&1", dir, name, name);
    if (system(cmd) != 0) {
        snprintf(cmd, sizeof(cmd), "cat %s/%s.out", dir, name);
        (void)system(cmd);
        fail_msg("iasl -d %s.dat failed (is acpica-tools installed? tools/deps.sh linux)", name);
    }
    snprintf(path, sizeof(path), "%s/%s.dsl", dir, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    static char raw[65536], text[65536];
    size_t n = fread(raw, 1, sizeof(raw) - 1, f);
    fclose(f);
    /* Runs of blanks become one space: the field alignment is not what is checked. */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (raw[i] != ' ' || k == 0 || text[k - 1] != ' ')
            text[k++] = raw[i];
    text[k] = 0;
    return text;
}

static void expect(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("the disassembly lacks \"%s\":\n%s", needle, text);
}

static void expect_not(const char *text, const char *needle)
{
    if (strstr(text, needle))
        fail_msg("the disassembly has \"%s\":\n%s", needle, text);
}

static void test_iasl_decodes_what_we_mean(void **state)
{
    (void)state;
    struct acpi_tables t;
    build(2, &t);
    snprintf(dir, sizeof(dir), "/tmp/test_acpi.XXXXXX");
    assert_non_null(mkdtemp(dir));

    char *s = disassemble("facp", t.fadt_gpa);
    expect_not(s, "Invalid");
    expect_not(s, "Incorrect checksum");
    expect(s, "Revision : 06");
    expect(s, "Hardware Reduced (V5) : 1");
    expect(s, "Reset Register Supported (V2) : 1");
    expect(s, "CMOS RTC Not Present (V5) : 1");
    expect(s, "VGA Not Present (V4) : 1");
    expect(s, "8042 Present on ports 60/64 (V2) : 0");
    expect(s, "Legacy Devices Supported (V2) : 0");
    expect(s, "Value to cause reset : 01");
    expect(s, "Control Method Power Button (V1) : 1");
    expect(s, "Reset Register : [Generic Address Structure]\n[074h 0116 1] Space ID : 01 "
              "[SystemIO]\n[075h 0117 1] Bit Width : 08\n[076h 0118 1] Bit Offset : 00\n"
              "[077h 0119 1] Encoded Access Width : 01 [Byte Access:8]\n[078h 0120 8] Address "
              ": 0000000000000602");
    expect(s, "Sleep Control Register : [Generic Address Structure]\n[0F4h 0244 1] Space ID "
              ": 01 [SystemIO]");
    expect(s, "[0F8h 0248 8] Address : 0000000000000600");
    expect(s, "Sleep Status Register : [Generic Address Structure]");
    expect(s, "[104h 0260 8] Address : 0000000000000601");
    expect(s, "FACS Address : 0000000000000000");
    expect(s, "Hypervisor ID : 0000646568637376");     /* "vsched", little-endian */

    s = disassemble("apic", t.madt_gpa);
    expect_not(s, "Incorrect checksum");
    expect(s, "PC-AT Compatibility : 0");
    expect(s, "Subtable Type : 09 [Processor Local x2APIC]");
    expect(s, "Processor x2Apic ID : 00000001");
    expect(s, "Processor UID : 00000001");
    expect(s, "Processor Enabled : 1");
    expect_not(s, "I/O APIC");

    s = disassemble("dsdt", t.dsdt_gpa);
    expect_not(s, "Incorrect checksum");
    expect(s, "Scope (\\_SB)\n {\n Device (COM1)");
    expect(s, "Device (COM1)");
    expect(s, "Name (_HID, EisaId (\"PNP0501\") /* 16550A-compatible COM Serial Port */)");
    expect(s, "Name (_UID, One)");
    expect(s, "IO (Decode16,");
    expect(s, "IO (Decode16,\n 0x03F8, // Range Minimum\n 0x03F8, // Range Maximum\n 0x01, "
              "// Alignment\n 0x08, // Length\n )\n })");
    expect_not(s, "IRQ");
    expect(s, "Name (\\_S5, Package (0x04) // _S5_: S5 System State\n {\n 0x05, \n Zero");

    s = disassemble("xsdt", t.xsdt_gpa);
    expect_not(s, "Incorrect checksum");
    char line[96];
    snprintf(line, sizeof(line), "ACPI Table Address 0 : %016lX", (unsigned long)t.fadt_gpa);
    expect(s, line);
    snprintf(line, sizeof(line), "ACPI Table Address 1 : %016lX", (unsigned long)t.madt_gpa);
    expect(s, line);

    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    (void)system(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pointers_and_checksums),
        cmocka_unit_test(test_madt_one_x2apic_per_vcpu),
        cmocka_unit_test(test_bad_input_refused),
        cmocka_unit_test(test_pm_ports),
        cmocka_unit_test(test_iasl_decodes_what_we_mean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
