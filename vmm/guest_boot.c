#include "vmm/guest_boot.h"

#include <string.h>

#include "vmm/fmt.h"
#include "vmm/pagetable.h"

static void copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int guest_boot_setup(void *mem, uint64_t mem_size, const struct elf_info *elf, uint32_t vcpus,
                     const char *vm_name, const char *args, uint64_t tsc_hz,
                     struct guest_layout *out, char *err, size_t errlen)
{
    uint8_t *m = mem;
    if (!vcpus) {
        fmt_snprintf(err, errlen, "a VM needs at least one vCPU");
        return -1;
    }
    if (!mem_size || mem_size % PT_SIZE_2M) {
        fmt_snprintf(err, errlen, "guest memory must be a multiple of 2 MiB");
        return -1;
    }
    if (elf->top > mem_size || (mem_size - elf->top) / GUEST_STACK_SIZE < vcpus) {
        fmt_snprintf(err, errlen,
                     "%u vCPU stacks of 64 KiB do not fit between the image's end 0x%lx and "
                     "the top of memory 0x%lx", vcpus, elf->top, mem_size);
        return -1;
    }
    /* Page-table pages come from the boot area, handed out in order. */
    struct pt_linear a = { m, GUEST_PML4_GPA, GUEST_TABLES_END };
    struct pt_mem pm = pt_linear_mem(&a);
    uint64_t root = pm.alloc_table(pm.ctx);
    if (pt_map(&pt_format_x86, &pm, root, 0, 0, mem_size, PTE_P | PTE_RW, PT_SIZE_2M) < 0) {
        fmt_snprintf(err, errlen, "guest memory too large for the boot area's page tables");
        return -1;
    }

    uint64_t *gdt = (uint64_t *)(m + GUEST_GDT_GPA);
    gdt[0] = 0;
    gdt[1] = 0x00af9b000000ffffull; /* 0x08: 64-bit code, accessed */
    gdt[2] = 0x00cf93000000ffffull; /* 0x10: data, accessed */

    struct guest_boot_info *bi = (struct guest_boot_info *)(m + GUEST_BOOT_INFO_GPA);
    memset(bi, 0, sizeof(*bi));
    bi->magic = GUEST_BOOT_MAGIC;
    bi->version = GUEST_BOOT_VERSION;
    bi->vcpus = vcpus;
    bi->memory_bytes = mem_size;
    bi->tsc_hz = tsc_hz;
    copy_str(bi->vm_name, sizeof(bi->vm_name), vm_name);
    copy_str(bi->args, sizeof(bi->args), args);

    out->mem_size = mem_size;
    out->entry = elf->entry;
    out->vcpus = vcpus;
    return 0;
}

void guest_entry_for(const struct guest_layout *l, uint32_t vcpu, struct guest_entry *out)
{
    out->rip = l->entry;
    out->rsp = l->mem_size - (uint64_t)vcpu * GUEST_STACK_SIZE;
    out->cr3 = GUEST_PML4_GPA;
    out->rdi = vcpu;
    out->rsi = GUEST_BOOT_INFO_GPA;
    out->gdt_base = GUEST_GDT_GPA;
    out->gdt_limit = 3 * 8 - 1;
}
