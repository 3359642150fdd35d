/* Capability MSRs of emulated CPUs, read by the VMM (its `vmx: msrs` line) under Bochs 2.7. */
#ifndef VSCHED_TEST_VMX_FIXTURES_H
#define VSCHED_TEST_VMX_FIXTURES_H

#include "vmm/vmx/vmx_caps.h"

/* corei7_skylake_x (also in docs/emulation.md) */
static const struct vmx_msrs bochs_skylake_x = {
    .basic = 0x00d810000000002bull,
    .pinbased = 0x0000007f00000016ull,
    .procbased = 0xf7f9fffe04006172ull,
    .exit = 0x007fffff00036dfbull,
    .entry = 0x0000ffff000011fbull,
    .misc = 0x600401e0ull,
    .procbased2 = 0x02177fff00000000ull,
    .ept_vpid = 0x00000f0106334141ull,
    .feature_control = 0,
    .cpuid1_ecx = (1u << 5) | (1u << 21) | (1u << 24), /* VMX, x2APIC, TSC-deadline */
};

/* corei7_skylake_x under Bochs 3.0 (Debian 13), which has posted-interrupt processing
 * (pin-based bit 7) and more: its `vmx: msrs` line. */
static const struct vmx_msrs bochs3_skylake_x = {
    .basic = 0x00d810000000002bull,
    .pinbased = 0x000000ff00000016ull,
    .procbased = 0xfff9fffe04006172ull,
    .exit = 0x407fffff00036dfbull,
    .entry = 0x0000ffff000011fbull,
    .misc = 0x600401e0ull,
    .procbased2 = 0x02577fff00000000ull,
    .ept_vpid = 0x00000f0106734141ull,
    .feature_control = 0,
    .cpuid1_ecx = (1u << 5) | (1u << 21) | (1u << 24),
};

#endif
