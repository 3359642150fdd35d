#include "vmm/xstate.h"

#include <string.h>

#include "vmm/cpu.h"
#include "vmm/cpuid.h"
#include "vmm/fmt.h"
#include "vmm/mem.h"
#include "vmm/x86.h"

#define CR4_OSFXSR     (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define MXCSR_DEFAULT  0x1f80u /* every SIMD exception masked (SDM Vol. 1 10.2.3) */
#define FCW_DEFAULT    0x037fu /* FINIT's control word (SDM Vol. 1 8.1.5) */

enum save_insn { SAVE_FXSAVE, SAVE_XSAVE, SAVE_XSAVEOPT };

static enum save_insn save_insn;
static uint64_t allowed;     /* XCR0 components switched; 0 = FXSAVE only */
static uint32_t area_size;
/* Per pCPU: whose x87/SSE/AVX state its registers hold, and its XCR0 and DR0-3. */
static struct xstate *loaded[MAX_CPUS];
static uint64_t hw_xcr0[MAX_CPUS];
static uint64_t hw_dr[MAX_CPUS][4];

static void xsetbv(uint64_t value)
{
    __asm__ volatile("xsetbv" : : "c"(0u), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
                     : "memory");
}

static void set_xcr0(uint32_t cpu, uint64_t value)
{
    if (allowed && hw_xcr0[cpu] != value) {
        xsetbv(value);
        hw_xcr0[cpu] = value;
    }
}

void xstate_cpu_init(void)
{
    uint64_t cr4 = read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT;
    bool xsave = (cpuid(1, 0).ecx >> 26) & 1;
    if (xsave)
        cr4 |= CR4_OSXSAVE_BIT;
    write_cr4(cr4);
    if (xsave) {
        uint64_t all = cpuid_xcr0_allowed(cpuid);
        if (all) {
            xsetbv(all);
            hw_xcr0[cpu_index()] = all;
        }
    }
}

void xstate_global_init(char *line, unsigned size)
{
    allowed = cpuid_xcr0_allowed(cpuid);
    if (allowed) {
        save_insn = (cpuid(0xd, 1).eax & 1) ? SAVE_XSAVEOPT : SAVE_XSAVE;
        area_size = cpuid_xsave_size(cpuid, allowed);
    } else {
        save_insn = SAVE_FXSAVE;
        area_size = 512;
    }
    fmt_snprintf(line, size,
                 "xstate: %s, guest XCR0 components 0x%lx, %u-byte area per vCPU; DR0-3, "
                 "XCR0 switched per vCPU",
                 save_insn == SAVE_XSAVEOPT ? "xsaveopt" : save_insn == SAVE_XSAVE ? "xsave"
                                                                                  : "fxsave (no XSAVE)",
                 allowed, area_size);
}

uint64_t xstate_xcr0_allowed(void)
{
    return allowed;
}

int xstate_init(struct xstate *xs)
{
    memset(xs, 0, sizeof(*xs));
    uint64_t pa = phys_alloc_pages((area_size + 4095) / 4096);
    if (!pa)
        return -1;
    xs->area = (uint8_t *)(uintptr_t)pa;
    memset(xs->area, 0, area_size);
    /* The legacy region in its FINIT state; an XSAVE header of zeros (XSTATE_BV = 0: every
     * component in its initial configuration, standard format).  XRSTOR loads MXCSR from
     * memory whenever SSE or AVX is requested, so it must be valid (SDM Vol. 1 13.8.1). */
    *(uint16_t *)xs->area = FCW_DEFAULT;
    *(uint32_t *)(xs->area + 24) = MXCSR_DEFAULT;
    xs->xcr0 = XCR0_X87; /* the reset value */
    xs->loaded_on = -1;
    return 0;
}

static void restore_area(const struct xstate *xs)
{
    if (save_insn == SAVE_FXSAVE)
        __asm__ volatile("fxrstor64 %0" : : "m"(*xs->area) : "memory");
    else
        __asm__ volatile("xrstor64 %0" : : "m"(*xs->area), "a"((uint32_t)allowed),
                         "d"((uint32_t)(allowed >> 32)) : "memory");
}

static void save_area(struct xstate *xs)
{
    switch (save_insn) {
    case SAVE_FXSAVE: __asm__ volatile("fxsave64 %0" : "=m"(*xs->area) : : "memory"); break;
    case SAVE_XSAVE:
        __asm__ volatile("xsave64 %0" : "=m"(*xs->area) : "a"((uint32_t)allowed),
                         "d"((uint32_t)(allowed >> 32)) : "memory");
        break;
    case SAVE_XSAVEOPT:
        __asm__ volatile("xsaveopt64 %0" : "=m"(*xs->area) : "a"((uint32_t)allowed),
                         "d"((uint32_t)(allowed >> 32)) : "memory");
        break;
    }
}

#define DR_ACCESS(n)                                                                         \
    static uint64_t read_dr##n(void)                                                         \
    {                                                                                        \
        uint64_t v;                                                                          \
        __asm__ volatile("mov %%dr" #n ", %0" : "=r"(v));                                    \
        return v;                                                                            \
    }                                                                                        \
    static void write_dr##n(uint64_t v)                                                      \
    {                                                                                        \
        __asm__ volatile("mov %0, %%dr" #n : : "r"(v));                                      \
    }
DR_ACCESS(0)
DR_ACCESS(1)
DR_ACCESS(2)
DR_ACCESS(3)
#undef DR_ACCESS

void xstate_enter(struct xstate *xs)
{
    uint32_t cpu = cpu_index();
    if (loaded[cpu] != xs || xs->loaded_on != (int32_t)cpu) {
        set_xcr0(cpu, allowed); /* XRSTOR restores only what XCR0 enables */
        restore_area(xs);
        loaded[cpu] = xs;
        xs->loaded_on = (int32_t)cpu;
        xs->restores++;
    }
    uint64_t *hw = hw_dr[cpu];
    if (hw[0] != xs->dr[0])
        write_dr0(hw[0] = xs->dr[0]);
    if (hw[1] != xs->dr[1])
        write_dr1(hw[1] = xs->dr[1]);
    if (hw[2] != xs->dr[2])
        write_dr2(hw[2] = xs->dr[2]);
    if (hw[3] != xs->dr[3])
        write_dr3(hw[3] = xs->dr[3]);
    set_xcr0(cpu, xs->xcr0);
}

void xstate_leave(struct xstate *xs)
{
    uint32_t cpu = cpu_index();
    if (loaded[cpu] != xs || xs->loaded_on != (int32_t)cpu)
        return; /* never entered here since it was last saved */
    set_xcr0(cpu, allowed); /* save every component, whatever the guest enabled */
    save_area(xs);
    /* The guest writes DR0-3 without exits: read back what it left. */
    uint64_t *hw = hw_dr[cpu];
    xs->dr[0] = hw[0] = read_dr0();
    xs->dr[1] = hw[1] = read_dr1();
    xs->dr[2] = hw[2] = read_dr2();
    xs->dr[3] = hw[3] = read_dr3();
}

void xstate_sync_xcr0(struct xstate *xs)
{
    if (!allowed)
        return;
    uint32_t cpu = cpu_index(), lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0u));
    uint64_t now = (uint64_t)hi << 32 | lo;
    if (now != hw_xcr0[cpu])
        xs->xcr0 = hw_xcr0[cpu] = now;
}

bool xstate_set_xcr0(struct xstate *xs, uint32_t index, uint64_t value)
{
    if (!cpuid_xsetbv_valid(index, value, allowed))
        return false;
    xs->xcr0 = value;
    return true; /* loaded into the pCPU by the next xstate_enter */
}
