/* The UEFI entry of vsched: read the configuration and guest images from the ESP, find the
 * CPUs, leave the firmware behind (ExitBootServices), and hand the machine to the VMM. */
#include <efi.h>
#include <efilib.h>
#include <string.h>

#include "boot/esp.h"
#include "boot/madt.h"
#include "boot/mp_services.h"
#include "boot/smp.h"
#include "sched/sched.h"

#include "vmm/console.h"
#include "vmm/fmt.h"
#include "vmm/halt.h"
#include "vmm/linux_boot.h"
#include "vmm/vmm.h"
#include "vmm/x86.h"

#define CONFIG_FILE "vsched.cfg"
#define TRAMPOLINE_MAX 0x9ffffull /* start-up page: below the EBDA/VGA hole */

static struct boot_info bi;
static uint8_t map_buf[64 * 1024] __attribute__((aligned(8)));

static const char *efi_error(EFI_STATUS st)
{
    switch (st) {
    case EFI_NOT_FOUND: return "not found";
    case EFI_OUT_OF_RESOURCES: return "out of memory";
    case EFI_DEVICE_ERROR: return "device error";
    case EFI_VOLUME_CORRUPTED: return "volume corrupted";
    case EFI_ACCESS_DENIED: return "access denied";
    default: return "firmware error";
    }
}

static bool policy_known(const char *name)
{
    return sched_policy_known(name);
}

/* FILE for VM I's KIND ("kernel", "initrd") into *OUT; a file an earlier VM already named for
 * the same KIND is shared, not read again (a vmlinux is ~60 MB). */
static void read_vm_file(uint32_t i, const char *kind, const char *file, struct boot_image *out,
                         struct boot_image *table, const char *(*name_of)(uint32_t))
{
    const struct cfg_vm *vm = &bi.cfg.vms[i];
    for (uint32_t j = 0; j < i; j++) {
        if (table[j].data && strcmp(name_of(j), file) == 0) {
            *out = table[j];
            return;
        }
    }
    void *data;
    UINTN size;
    EFI_STATUS st = esp_read(file, &data, &size);
    if (EFI_ERROR(st)) {
        kprintf("%s:%u: error: [vm %s] %s '%s': %s\n", CONFIG_FILE, vm->line, vm->name, kind,
                file, efi_error(st));
        machine_halt(HALT_CONFIG);
    }
    out->data = data;
    out->size = size;
}

static const char *kernel_of(uint32_t i)
{
    return bi.cfg.vms[i].kernel;
}

static const char *initrd_of(uint32_t i)
{
    return bi.cfg.vms[i].initrd;
}

/* A Linux VM's kernel and initrd: read, and checked against the VM's memory now, so that a
 * file that is not a kernel, or that does not fit, is a configuration error before any CPU
 * starts. */
static void load_linux(uint32_t i)
{
    const struct cfg_vm *vm = &bi.cfg.vms[i];
    char err[200];
    read_vm_file(i, "kernel", vm->kernel, &bi.kernels[i], bi.kernels, kernel_of);
    if (vm->initrd[0])
        read_vm_file(i, "initrd", vm->initrd, &bi.initrds[i], bi.initrds, initrd_of);
    struct lx_kernel k;
    struct lx_layout l;
    if (lx_inspect(bi.kernels[i].data, bi.kernels[i].size, &k, err, sizeof(err)) < 0) {
        kprintf("%s:%u: error: [vm %s] kernel '%s': %s\n", CONFIG_FILE, vm->line, vm->name,
                vm->kernel, err);
        machine_halt(HALT_CONFIG);
    }
    /* The longest command line the VMM may build: every option, the largest TSC rate. */
    static char cmd[LX_CMDLINE_MAX + 1];
    int n = lx_cmdline(cmd, sizeof(cmd), vm->cmdline, UINT32_MAX, LX_CMD_NOAPIC);
    if (n < 0 || lx_plan(&k, (uint64_t)vm->memory_mb << 20, bi.initrds[i].size, (size_t)n, &l,
                         err, sizeof(err)) < 0) {
        if (n < 0)
            fmt_snprintf(err, sizeof(err), "command line too long with the VMM's options");
        kprintf("%s:%u: error: [vm %s] kernel '%s': %s\n", CONFIG_FILE, vm->line, vm->name,
                vm->kernel, err);
        machine_halt(HALT_CONFIG);
    }
    kprintf("config: [vm %s] kernel %s: %s, %lu bytes, entry 0x%lx, [%lu, %lu) MiB; initrd %s: "
            "%lu bytes\n", vm->name, vm->kernel, k.kind == LX_VMLINUX ? "vmlinux" : "bzImage",
            bi.kernels[i].size, k.entry, k.start >> 20, (k.end + 0xfffff) >> 20,
            vm->initrd[0] ? vm->initrd : "none", bi.initrds[i].size);
}

static void load_config(void)
{
    void *text;
    UINTN len;
    EFI_STATUS st = esp_read(CONFIG_FILE, &text, &len);
    if (st == EFI_NOT_FOUND) {
        cfg_defaults(&bi.cfg);
        kprintf("config: no %s on the ESP, using defaults\n", CONFIG_FILE);
        return;
    }
    if (EFI_ERROR(st)) {
        kprintf("%s: cannot read: %s\n", CONFIG_FILE, efi_error(st));
        machine_halt(HALT_CONFIG);
    }
    struct cfg_error err;
    if (cfg_parse(text, len, policy_known, &bi.cfg, &err) < 0) {
        if (err.line)
            kprintf("%s:%u: error: %s\n", CONFIG_FILE, err.line, err.msg);
        else
            kprintf("%s: error: %s\n", CONFIG_FILE, err.msg);
        machine_halt(HALT_CONFIG);
    }
    bi.have_cfg = true;
    for (uint32_t i = 0; i < bi.cfg.nvms; i++) {
        const struct cfg_vm *vm = &bi.cfg.vms[i];
        if (!vm->image[0])
            continue;
        void *data;
        UINTN size;
        st = esp_read(vm->image, &data, &size);
        if (EFI_ERROR(st)) {
            kprintf("%s:%u: error: [vm %s] image '%s': %s\n", CONFIG_FILE, vm->line, vm->name,
                    vm->image, efi_error(st));
            machine_halt(HALT_CONFIG);
        }
        bi.images[i].data = data;
        bi.images[i].size = size;
    }
    for (uint32_t i = 0; i < bi.cfg.nvms; i++)
        if (bi.cfg.vms[i].kernel[0])
            load_linux(i);
    if (bi.cfg.machine.meta_profile[0]) {
        void *data;
        UINTN size;
        st = esp_read(bi.cfg.machine.meta_profile, &data, &size);
        if (EFI_ERROR(st)) {
            kprintf("%s: error: [machine] meta_profile '%s': %s\n", CONFIG_FILE,
                    bi.cfg.machine.meta_profile, efi_error(st));
            machine_halt(HALT_CONFIG);
        }
        bi.meta_profile.data = data;
        bi.meta_profile.size = size;
    }
    kprintf("config: %s read, %u VM(s)\n", CONFIG_FILE, bi.cfg.nvms);
}

/* The ACPI table with signature SIG, through the RSDP the firmware publishes. */
static const uint8_t *acpi_find(EFI_SYSTEM_TABLE *st, const char *sig)
{
    EFI_GUID acpi20 = ACPI_20_TABLE_GUID, acpi10 = ACPI_TABLE_GUID;
    const uint8_t *rsdp = NULL;
    for (UINTN i = 0; i < st->NumberOfTableEntries; i++) {
        EFI_CONFIGURATION_TABLE *t = &st->ConfigurationTable[i];
        if (!CompareGuid(&t->VendorGuid, &acpi20) ||
            (!rsdp && !CompareGuid(&t->VendorGuid, &acpi10)))
            rsdp = t->VendorTable;
    }
    if (!rsdp || CompareMem(rsdp, "RSD PTR ", 8) != 0)
        return NULL;
    bool xsdt = rsdp[15] >= 2;
    uint64_t sdt = xsdt ? *(const uint64_t *)(rsdp + 24) : *(const uint32_t *)(rsdp + 16);
    const uint8_t *h = (const uint8_t *)(uintptr_t)sdt;
    uint32_t len = *(const uint32_t *)(h + 4), esize = xsdt ? 8 : 4;
    for (uint32_t off = 36; off + esize <= len; off += esize) {
        uint64_t pa = xsdt ? *(const uint64_t *)(h + off) : *(const uint32_t *)(h + off);
        const uint8_t *t = (const uint8_t *)(uintptr_t)pa;
        if (t && CompareMem(t, sig, 4) == 0)
            return t;
    }
    return NULL;
}

static uint32_t bsp_apic_id(void)
{
    if (cpuid(0, 0).eax >= 0xb && cpuid(0xb, 0).ebx != 0)
        return cpuid(0xb, 0).edx; /* x2APIC ID */
    return cpuid(1, 0).ebx >> 24;
}

/* APIC IDs of the enabled CPUs from the firmware's MP Services (present on OVMF under QEMU
 * and Bochs and on real machines), or -1 when it is not there. */
static int cpus_from_mp_services(uint32_t *ids, uint32_t max)
{
    EFI_GUID guid = EFI_MP_SERVICES_PROTOCOL_GUID;
    EFI_MP_SERVICES_PROTOCOL *mp;
    UINTN count, enabled;
    if (EFI_ERROR(uefi_call_wrapper(BS->LocateProtocol, 3, &guid, NULL, (void **)&mp)) ||
        EFI_ERROR(uefi_call_wrapper(mp->GetNumberOfProcessors, 3, mp, &count, &enabled)))
        return -1;
    int n = 0;
    for (UINTN i = 0; i < count; i++) {
        EFI_MP_PROCESSOR_INFORMATION info;
        if (EFI_ERROR(uefi_call_wrapper(mp->GetProcessorInfo, 3, mp, i, &info)) ||
            !(info.StatusFlag & MP_PROCESSOR_ENABLED))
            continue;
        if ((uint32_t)n < max)
            ids[n] = (uint32_t)info.ProcessorId;
        n++;
    }
    return n;
}

/* bi.apic_ids: the BSP, then the other enabled CPUs in firmware order, as many as pcpus
 * asks. */
static void find_cpus(EFI_SYSTEM_TABLE *st)
{
    uint32_t ids[MAX_CPUS], want = bi.cfg.machine.pcpus;
    uint32_t bsp = bsp_apic_id();
    const char *source = "UEFI MP services";
    int n = cpus_from_mp_services(ids, MAX_CPUS);
    if (n <= 0) {
        const uint8_t *madt = acpi_find(st, "APIC");
        source = "ACPI MADT";
        n = madt ? madt_cpus(madt, *(const uint32_t *)(madt + 4), ids, MAX_CPUS) : -1;
    }
    if (n <= 0) {
        kprintf("cpus: neither UEFI MP services nor an ACPI MADT; using the bootstrap CPU only\n");
        source = "bootstrap only";
        n = 0;
    }
    bi.apic_ids[0] = bsp;
    bi.ncpus = 1;
    for (int i = 0; i < n && i < MAX_CPUS; i++) {
        if (ids[i] == bsp)
            continue;
        if (bi.ncpus < MAX_CPUS && (!want || bi.ncpus < want))
            bi.apic_ids[bi.ncpus++] = ids[i];
        else
            bi.cpus_ignored++;
    }
    if (n > MAX_CPUS)
        bi.cpus_ignored += (uint32_t)n - MAX_CPUS;
    if (want > bi.ncpus) {
        kprintf("%s: error: pcpus = %u but the machine has %u CPU(s)\n", CONFIG_FILE, want,
                bi.ncpus);
        machine_halt(HALT_CONFIG);
    }
    kprintf("cpus: %d described by %s, using %u, bootstrap apic=%u\n", n ? n : 1, source,
            bi.ncpus, bsp);
}

static uint64_t reserve_trampoline(void)
{
    EFI_PHYSICAL_ADDRESS pa = TRAMPOLINE_MAX;
    EFI_STATUS st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateMaxAddress, EfiLoaderCode,
                                      1, &pa);
    if (EFI_ERROR(st)) {
        kprintf("boot: no free page below 640 KiB for AP start-up code: %s\n", efi_error(st));
        machine_halt(HALT_BOOT);
    }
    return pa;
}

static enum boot_mem_type mem_type(UINT32 efi_type)
{
    switch (efi_type) {
    case EfiConventionalMemory: return BOOT_MEM_FREE;
    case EfiLoaderCode:
    case EfiLoaderData: return BOOT_MEM_LOADER;
    case EfiBootServicesCode:
    case EfiBootServicesData:
    case EfiRuntimeServicesCode:
    case EfiRuntimeServicesData: return BOOT_MEM_FIRMWARE;
    case EfiACPIReclaimMemory:
    case EfiACPIMemoryNVS: return BOOT_MEM_ACPI;
    case EfiMemoryMappedIO:
    case EfiMemoryMappedIOPortSpace: return BOOT_MEM_MMIO;
    default: return BOOT_MEM_RESERVED;
    }
}

/* Convert the firmware map, merging neighbours of one type.  No allocation, no firmware
 * call: the map key must stay valid for ExitBootServices. */
static void convert_map(UINTN map_size, UINTN desc_size)
{
    bi.nmem = 0;
    bi.firmware_map_entries = (uint32_t)(map_size / desc_size);
    for (UINTN off = 0; off + desc_size <= map_size; off += desc_size) {
        EFI_MEMORY_DESCRIPTOR *d = (EFI_MEMORY_DESCRIPTOR *)(map_buf + off);
        enum boot_mem_type t = mem_type(d->Type);
        uint64_t size = d->NumberOfPages * 4096;
        struct boot_mem_range *last = bi.nmem ? &bi.mem[bi.nmem - 1] : NULL;
        if (last && last->type == t && last->base + last->size == d->PhysicalStart) {
            last->size += size;
        } else if (bi.nmem < BOOT_MAX_MEM_RANGES) {
            bi.mem[bi.nmem++] = (struct boot_mem_range){ d->PhysicalStart, size, t };
        }
    }
}

static void exit_boot_services(EFI_HANDLE image)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        UINTN size = sizeof(map_buf), key, desc_size;
        UINT32 version;
        EFI_STATUS st = uefi_call_wrapper(BS->GetMemoryMap, 5, &size,
                                          (EFI_MEMORY_DESCRIPTOR *)map_buf, &key, &desc_size,
                                          &version);
        if (EFI_ERROR(st)) {
            kprintf("boot: GetMemoryMap failed: %s\n", efi_error(st));
            machine_halt(HALT_BOOT);
        }
        convert_map(size, desc_size);
        st = uefi_call_wrapper(BS->ExitBootServices, 2, image, key);
        if (!EFI_ERROR(st))
            return;
        /* The map changed under us (a firmware event allocated): read it again. */
    }
    kprintf("boot: ExitBootServices kept failing\n");
    machine_halt(HALT_BOOT);
}

/* gnu-efi's crt0 calls this with the SysV convention: no EFIAPI here. */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
    InitializeLib(image, st);
    uefi_call_wrapper(BS->SetWatchdogTimer, 4, 0, 0, 0, NULL);
    console_init();
    kprintf("\nvsched %s: a type-1 hypervisor for vCPU scheduling research\n", VSCHED_VERSION);
    EFI_STATUS est = esp_open(image);
    if (EFI_ERROR(est)) {
        kprintf("boot: cannot open the ESP: %s\n", efi_error(est));
        machine_halt(HALT_BOOT);
    }
    load_config();
    find_cpus(st);
    uint64_t trampoline = reserve_trampoline();
    exit_boot_services(image);
    /* From here on the firmware is gone: no Boot Services, no ConOut. */
    vmm_init_bsp(&bi);
    smp_start_aps(&bi, trampoline);
    vmm_main();
}
