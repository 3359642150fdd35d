/* Hardware-reduced ACPI tables; see acpi.h.  Layouts from the ACPI 6.x specification:
 * 5.2.5.3 RSDP, 5.2.6 table header, 5.2.8 XSDT, 5.2.9 FADT (Table 5.9, 276 bytes in revision 6),
 * 5.2.12 MADT with 5.2.12.12 Local x2APIC structures, 5.2.11.1 DSDT, chapter 20 AML, 6.4.2.5
 * I/O port descriptor.  Checked by tests/unit/test_acpi.c, which disassembles them with iasl. */
#include "vmm/acpi.h"

#include <string.h>

#include "vmm/fmt.h"
#include "vmm/le.h"

#define HDR_SIZE      36
#define RSDP_SIZE     36
#define FADT_SIZE     276
#define MADT_FIXED    (HDR_SIZE + 8)
#define X2APIC_SIZE   16
#define ALIGN         16
#define DSDT_MAX      160  /* the AML below is ~100 bytes */

/* FADT fields (offsets in the table). */
#define FADT_DSDT           40
#define FADT_P_LVL2_LAT     96
#define FADT_P_LVL3_LAT     98
#define FADT_IAPC_BOOT_ARCH 109
#define FADT_FLAGS          112
#define FADT_RESET_REG      116
#define FADT_RESET_VALUE    128
#define FADT_MINOR          131
#define FADT_X_DSDT         140
#define FADT_SLEEP_CONTROL  244
#define FADT_SLEEP_STATUS   256
#define FADT_HYPERVISOR_ID  268

/* IA-PC boot architecture flags (Table 5.11): bit 0 legacy devices and bit 1 8042 stay clear
 * (absent); VGA not present, CMOS RTC not present. */
#define IAPC_VGA_NOT_PRESENT  (1u << 2)
#define IAPC_CMOS_RTC_ABSENT  (1u << 5)
/* FADT flags (Table 5.10). */
#define FADT_WBINVD           (1u << 0)
#define FADT_PROC_C1          (1u << 2)
#define FADT_PWR_BUTTON       (1u << 4)  /* no fixed-feature power button */
#define FADT_SLP_BUTTON       (1u << 5)  /* no fixed-feature sleep button */
#define FADT_FIX_RTC          (1u << 6)  /* no RTC wake status in fixed registers */
#define FADT_RESET_REG_SUP    (1u << 10)
#define FADT_HW_REDUCED_ACPI  (1u << 20)

#define GAS_SYSTEM_IO   1
#define GAS_ACCESS_BYTE 1

#define SLP_TYP_SHIFT   2
#define SLP_TYP_MASK    0x1c
#define SLP_EN          0x20

#define OEM_ID        "VSCHED"
#define OEM_TABLE_ID  "VSCHEDVM"
#define CREATOR_ID    "VSCH"

static uint8_t checksum(const uint8_t *p, uint32_t n)
{
    uint8_t sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum = (uint8_t)(sum + p[i]);
    return (uint8_t)(0u - sum);
}

static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
    memcpy(t, sig, 4);
    le_put(t + 4, len, 4);
    t[8] = rev;
    memcpy(t + 10, OEM_ID, 6);
    memcpy(t + 16, OEM_TABLE_ID, 8);
    le_put(t + 24, 1, 4);              /* OEM revision */
    memcpy(t + 28, CREATOR_ID, 4);
    le_put(t + 32, 1, 4);              /* creator revision */
}

static void seal(uint8_t *t, uint32_t len)
{
    t[9] = 0;
    t[9] = checksum(t, len);
}

static void gas_io8(uint8_t *g, uint16_t port)
{
    g[0] = GAS_SYSTEM_IO;
    g[1] = 8;                      /* register bit width */
    g[2] = 0;                      /* bit offset */
    g[3] = GAS_ACCESS_BYTE;
    le_put(g + 4, port, 8);
}

/* ---- AML (ACPI 6.x chapter 20) ---- */

struct aml {
    uint8_t *p;
    uint32_t n, cap;
    bool overflow;
};

static void aml_byte(struct aml *a, uint8_t b)
{
    if (a->n < a->cap)
        a->p[a->n] = b;
    else
        a->overflow = true;
    a->n++;
}

static void aml_bytes(struct aml *a, const void *src, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        aml_byte(a, ((const uint8_t *)src)[i]);
}

/* A package (Scope, Device, Package, Buffer): its PkgLength is written once the contents are
 * known, in as few bytes as it needs (20.2.4: one byte up to 63, else a lead byte with the byte
 * count in bits 7:6 and the low nibble, then 8 bits per byte). */
static uint32_t aml_open(struct aml *a)
{
    uint32_t at = a->n;
    aml_byte(a, 0);
    return at;
}

static void aml_close(struct aml *a, uint32_t at)
{
    if (a->overflow)
        return;
    uint32_t body = a->n - at - 1, extra = 0;
    while (extra < 3 && body + 1 + extra >= (extra ? (1u << (4 + 8 * extra)) : 64u))
        extra++;
    uint32_t len = body + 1 + extra;
    if (a->n + extra > a->cap) {
        a->overflow = true;
        return;
    }
    memmove(a->p + at + 1 + extra, a->p + at + 1, body);
    a->n += extra;
    if (!extra) {
        a->p[at] = (uint8_t)len;
        return;
    }
    a->p[at] = (uint8_t)((extra << 6) | (len & 0xf));
    for (uint32_t i = 0; i < extra; i++)
        a->p[at + 1 + i] = (uint8_t)(len >> (4 + 8 * i));
}

static void aml_dword(struct aml *a, uint32_t v)
{
    aml_byte(a, 0x0c);                    /* DWordPrefix */
    for (int i = 0; i < 4; i++)
        aml_byte(a, (uint8_t)(v >> (8 * i)));
}

static void aml_int(struct aml *a, uint32_t v)
{
    if (v <= 1) {
        aml_byte(a, (uint8_t)v);          /* ZeroOp, OneOp */
    } else if (v <= 0xff) {
        aml_byte(a, 0x0a);                /* BytePrefix */
        aml_byte(a, (uint8_t)v);
    } else if (v <= 0xffff) {
        aml_byte(a, 0x0b);                /* WordPrefix */
        aml_byte(a, (uint8_t)v);
        aml_byte(a, (uint8_t)(v >> 8));
    } else {
        aml_dword(a, v);
    }
}

/* Name (SEG, ...): NameOp, a 4-character NameSeg (a leading '\' makes it absolute). */
static void aml_name(struct aml *a, const char *seg)
{
    aml_byte(a, 0x08);
    aml_bytes(a, seg, (uint32_t)strlen(seg));
}

/* EisaId ("PNP0501"): three letters of 5 bits (A = 1) and four hex digits, as a big-endian
 * 32-bit value stored as an integer (ACPI 6.x 19.6.35). */
static uint32_t eisa_id(const char *id)
{
    uint32_t v = (uint32_t)((id[0] - 0x40) << 26 | (id[1] - 0x40) << 21 | (id[2] - 0x40) << 16);
    for (int i = 3; i < 7; i++) {
        char c = id[i];
        uint32_t d = (uint32_t)(c <= '9' ? c - '0' : c - 'A' + 10);
        v |= d << (4 * (6 - i));
    }
    return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
}

static void build_dsdt_aml(struct aml *a)
{
    /* Scope (\_SB) { Device (COM1) { _HID, _UID, _CRS } } */
    aml_byte(a, 0x10);                               /* ScopeOp */
    uint32_t scope = aml_open(a);
    aml_bytes(a, "\\_SB_", 5);
    aml_byte(a, 0x5b);                               /* DeviceOp */
    aml_byte(a, 0x82);
    uint32_t dev = aml_open(a);
    aml_bytes(a, "COM1", 4);
    aml_name(a, "_HID");
    aml_dword(a, eisa_id("PNP0501"));
    aml_name(a, "_UID");
    aml_int(a, 1);
    aml_name(a, "_CRS");
    aml_byte(a, 0x11);                               /* BufferOp */
    uint32_t buf = aml_open(a);
    /* IO (Decode16, 0x3F8, 0x3F8, 1, 8) then EndTag: 8 + 2 bytes.  No IRQ descriptor. */
    static const uint8_t crs[] = {
        0x47, 0x01, ACPI_COM1_PORT & 0xff, ACPI_COM1_PORT >> 8, ACPI_COM1_PORT & 0xff,
        ACPI_COM1_PORT >> 8, 0x01, 0x08,
        0x79, 0x00,                                  /* EndTag, checksum 0 = not checked */
    };
    aml_int(a, sizeof(crs));
    aml_bytes(a, crs, sizeof(crs));
    aml_close(a, buf);
    aml_close(a, dev);
    aml_close(a, scope);
    /* Name (\_S5, Package (4) { 5, 0, 0, 0 }): SLP_TYPa, SLP_TYPb, reserved. */
    aml_name(a, "\\_S5_");
    aml_byte(a, 0x12);                               /* PackageOp */
    uint32_t pkg = aml_open(a);
    aml_byte(a, 4);                                  /* NumElements */
    aml_int(a, ACPI_S5_SLP_TYP);
    aml_int(a, 0);
    aml_int(a, 0);
    aml_int(a, 0);
    aml_close(a, pkg);
}

static uint32_t align_up(uint32_t v)
{
    return (v + ALIGN - 1) & ~(uint32_t)(ALIGN - 1);
}

static uint32_t dsdt_len(void)
{
    uint8_t scratch[DSDT_MAX];
    struct aml a = { scratch, 0, sizeof(scratch), false };
    build_dsdt_aml(&a);
    return HDR_SIZE + a.n;
}

uint32_t acpi_size(uint32_t vcpus)
{
    return align_up(RSDP_SIZE) + align_up(HDR_SIZE + 2 * 8) + align_up(FADT_SIZE) +
           align_up(dsdt_len()) + MADT_FIXED + vcpus * X2APIC_SIZE;
}

int acpi_build(void *buf, size_t size, uint64_t gpa, uint32_t vcpus, struct acpi_tables *out,
               char *err, size_t errlen)
{
    uint8_t *b = buf;
    if (!vcpus || vcpus > 255) {
        fmt_snprintf(err, errlen, "ACPI: %u vCPUs (1 to 255 supported)", vcpus);
        return -1;
    }
    uint32_t need = acpi_size(vcpus);
    if (gpa % ALIGN || gpa + need > (1ull << 32)) {
        fmt_snprintf(err, errlen, "ACPI: tables at 0x%lx must be 16-byte aligned below 4 GiB",
                     gpa);
        return -1;
    }
    if (size < need) {
        fmt_snprintf(err, errlen, "ACPI: the tables need %u bytes, the window has %lu", need,
                     (uint64_t)size);
        return -1;
    }
    memset(b, 0, need);
    uint32_t rsdp = 0, xsdt = align_up(RSDP_SIZE), fadt = xsdt + align_up(HDR_SIZE + 16);
    uint32_t dsdt = fadt + align_up(FADT_SIZE), madt = dsdt + align_up(dsdt_len());

    /* DSDT: revision 2 = 64-bit integers. */
    struct aml a = { b + dsdt + HDR_SIZE, 0, DSDT_MAX, false };
    build_dsdt_aml(&a);
    header(b + dsdt, "DSDT", HDR_SIZE + a.n, 2);
    seal(b + dsdt, HDR_SIZE + a.n);

    /* MADT revision 4 (ACPI 6.0): local APIC address, flags 0 = no dual 8259. */
    uint32_t madt_len = MADT_FIXED + vcpus * X2APIC_SIZE;
    header(b + madt, "APIC", madt_len, 4);
    le_put(b + madt + HDR_SIZE, ACPI_LAPIC_ADDR, 4);
    le_put(b + madt + HDR_SIZE + 4, 0, 4);
    for (uint32_t i = 0; i < vcpus; i++) {
        uint8_t *e = b + madt + MADT_FIXED + i * X2APIC_SIZE;
        e[0] = 9;                                    /* Processor Local x2APIC */
        e[1] = X2APIC_SIZE;
        le_put(e + 4, i, 4);                             /* x2APIC ID */
        le_put(e + 8, 1, 4);                             /* flags: enabled */
        le_put(e + 12, i, 4);                            /* ACPI processor UID */
    }
    seal(b + madt, madt_len);

    /* FADT revision 6.0, hardware-reduced. */
    uint8_t *f = b + fadt;
    header(f, "FACP", FADT_SIZE, 6);
    le_put(f + FADT_DSDT, gpa + dsdt, 4);
    le_put(f + FADT_X_DSDT, gpa + dsdt, 8);
    le_put(f + FADT_P_LVL2_LAT, 101, 2);                 /* > 100: no C2 */
    le_put(f + FADT_P_LVL3_LAT, 1001, 2);                /* > 1000: no C3 */
    le_put(f + FADT_IAPC_BOOT_ARCH, IAPC_VGA_NOT_PRESENT | IAPC_CMOS_RTC_ABSENT, 2);
    le_put(f + FADT_FLAGS, FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON |
                           FADT_FIX_RTC | FADT_RESET_REG_SUP | FADT_HW_REDUCED_ACPI, 4);
    gas_io8(f + FADT_RESET_REG, ACPI_RESET_PORT);
    f[FADT_RESET_VALUE] = ACPI_RESET_VALUE;
    f[FADT_MINOR] = 0;
    gas_io8(f + FADT_SLEEP_CONTROL, ACPI_SLEEP_CTL_PORT);
    gas_io8(f + FADT_SLEEP_STATUS, ACPI_SLEEP_STS_PORT);
    memcpy(f + FADT_HYPERVISOR_ID, "vsched\0\0", 8);
    seal(f, FADT_SIZE);

    /* XSDT revision 1: the FADT and the MADT. */
    header(b + xsdt, "XSDT", HDR_SIZE + 16, 1);
    le_put(b + xsdt + HDR_SIZE, gpa + fadt, 8);
    le_put(b + xsdt + HDR_SIZE + 8, gpa + madt, 8);
    seal(b + xsdt, HDR_SIZE + 16);

    /* RSDP revision 2: no RSDT (address 0), the XSDT; checksum over the first 20 bytes,
     * extended checksum over all 36. */
    uint8_t *r = b + rsdp;
    memcpy(r, "RSD PTR ", 8);
    memcpy(r + 9, OEM_ID, 6);
    r[15] = 2;
    le_put(r + 16, 0, 4);
    le_put(r + 20, RSDP_SIZE, 4);
    le_put(r + 24, gpa + xsdt, 8);
    r[8] = checksum(r, 20);
    r[32] = checksum(r, RSDP_SIZE);

    *out = (struct acpi_tables){ .rsdp_gpa = gpa + rsdp, .xsdt_gpa = gpa + xsdt,
                                 .fadt_gpa = gpa + fadt, .dsdt_gpa = gpa + dsdt,
                                 .madt_gpa = gpa + madt, .size = need };
    return 0;
}

bool acpi_pm_port(uint16_t port)
{
    return port >= ACPI_PM_PORT && port < ACPI_PM_PORT + ACPI_PM_PORTS;
}

enum acpi_pm_action acpi_pm_write(uint16_t port, uint32_t value)
{
    uint8_t v = (uint8_t)value;
    if (port == ACPI_SLEEP_CTL_PORT && (v & SLP_EN) &&
        ((v & SLP_TYP_MASK) >> SLP_TYP_SHIFT) == ACPI_S5_SLP_TYP)
        return ACPI_PM_POWEROFF;
    if (port == ACPI_RESET_PORT && v == ACPI_RESET_VALUE)
        return ACPI_PM_RESET;
    return ACPI_PM_NONE;
}

uint8_t acpi_pm_read(uint16_t port)
{
    (void)port;
    return 0;
}
