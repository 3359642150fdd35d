/* Unit tests for the guest's CPUID (vmm/cpuid.c): what is taken away, what is added, the XSAVE
 * sizes and XSETBV rules, on a recorded host CPU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>

#include "vmm/cpuid.h"

/* A Skylake-X-like host: XSAVE with x87/SSE/AVX/AVX-512 (and PKRU, MPX it must not offer). */
static bool host_no_xsave;

static struct cpuid_regs host(uint32_t leaf, uint32_t sub)
{
    struct cpuid_regs r = { 0, 0, 0, 0 };
    switch (leaf) {
    case 0: r = (struct cpuid_regs){ 0x16, 0x756e6547, 0x6c65746e, 0x49656e69 }; break;
    case 1:
        r.eax = 0x50654;
        r.ebx = 0x00100800; /* CLFLUSH 8, APIC ID 0 */
        r.ecx = 0xfffab223u | (1u << 5) | (1u << 3) | (1u << 26) | (1u << 28);
        if (host_no_xsave)
            r.ecx &= ~((1u << 26) | (1u << 28));
        r.edx = 0xbfebfbffu;
        break;
    case 4: r = sub == 0 ? (struct cpuid_regs){ 0x1c004121, 0x01c0003f, 0x3f, 0 }
                         : sub == 3 ? (struct cpuid_regs){ 0x1c03c163, 0x03c0003f, 0x3fff, 4 }
                                    : (struct cpuid_regs){ 0, 0, 0, 0 };
        break;
    case 6: r.eax = 0x77; break;
    case 7:
        if (sub == 0)
            r = (struct cpuid_regs){ 0, 0xd39ffffbu, 0x0000000cu | (1u << 22), 0x9c000000u };
        break;
    case 0xa: r.eax = 0x07300404; break;
    case 0xd:
        if (sub == 0)
            r = (struct cpuid_regs){ 0x2ff, 0xa80, 0xa88, 0 }; /* x87..AVX-512, MPX, PKRU */
        else if (sub == 1)
            r.eax = 0xf; /* XSAVEOPT, XSAVEC, XGETBV1, XSAVES */
        else if (sub == 2)
            r = (struct cpuid_regs){ 256, 576, 0, 0 };
        else if (sub == 3 || sub == 4)
            r = (struct cpuid_regs){ sub == 3 ? 64 : 64, sub == 3 ? 960 : 1024, 0, 0 };
        else if (sub == 5)
            r = (struct cpuid_regs){ 64, 1088, 0, 0 };
        else if (sub == 6)
            r = (struct cpuid_regs){ 512, 1152, 0, 0 };
        else if (sub == 7)
            r = (struct cpuid_regs){ 1024, 1664, 0, 0 };
        else if (sub == 9)
            r = (struct cpuid_regs){ 8, 2688, 0, 0 };
        break;
    case 0x80000000u: r.eax = 0x80000008u; break;
    case 0x80000001u: r = (struct cpuid_regs){ 0, 0, 0x121 | (1u << 2), 0x2c100800u }; break;
    case 0x80000007u: r.edx = 0x100 | 0x7f; break;
    case 0x80000008u: r = (struct cpuid_regs){ 0x3030, 0x12345, 0, 0 }; break;
    }
    return r;
}

static struct cpuid_vcpu vcpu(uint32_t id, uint32_t n)
{
    struct cpuid_vcpu v = { .id = id, .nvcpus = n, .cr4 = 0, .xcr0 = 1,
                            .xcr0_allowed = cpuid_xcr0_allowed(host), .rdtscp = true,
                            .invpcid = true };
    return v;
}

static void test_allowed_components(void **state)
{
    (void)state;
    host_no_xsave = false;
    /* MPX (3, 4) and PKRU (9) are never switched, so never offered. */
    assert_int_equal(cpuid_xcr0_allowed(host), 0xe7);
    host_no_xsave = true;
    assert_int_equal(cpuid_xcr0_allowed(host), 0);
    host_no_xsave = false;
}

static void test_leaf1(void **state)
{
    (void)state;
    struct cpuid_vcpu v = vcpu(3, 4);
    struct cpuid_regs r = cpuid_guest(host, &v, 1, 0);
    assert_false(r.ecx & (1u << 5));  /* VMX */
    assert_false(r.ecx & (1u << 3));  /* MONITOR */
    assert_true(r.ecx & (1u << 21));  /* x2APIC */
    assert_true(r.ecx & (1u << 24));  /* TSC-deadline */
    assert_true(r.ecx & (1u << 31));  /* hypervisor */
    assert_true(r.ecx & (1u << 26));  /* XSAVE */
    assert_false(r.ecx & (1u << 27)); /* OSXSAVE follows the guest's CR4: off */
    assert_true(r.ecx & (1u << 28));  /* AVX */
    assert_false(r.edx & (1u << 7));  /* MCE */
    assert_false(r.edx & (1u << 14)); /* MCA */
    assert_false(r.edx & (1u << 12)); /* MTRR */
    assert_true(r.edx & (1u << 28));  /* HTT: 4 vCPUs */
    assert_int_equal(r.ebx >> 24, 3);
    assert_int_equal((r.ebx >> 16) & 0xff, 4);
    v.cr4 = CR4_OSXSAVE_BIT;
    assert_true(cpuid_guest(host, &v, 1, 0).ecx & (1u << 27));
    v = vcpu(0, 1);
    assert_false(cpuid_guest(host, &v, 1, 0).edx & (1u << 28));
    /* Without XSAVE on the host, no XSAVE, AVX or FMA for the guest. */
    host_no_xsave = true;
    v = vcpu(0, 1);
    r = cpuid_guest(host, &v, 1, 0);
    host_no_xsave = false;
    assert_false(r.ecx & ((1u << 26) | (1u << 28) | (1u << 12)));
}

static void test_leaf7_and_pmu(void **state)
{
    (void)state;
    struct cpuid_vcpu v = vcpu(0, 2);
    struct cpuid_regs r = cpuid_guest(host, &v, 7, 0);
    assert_int_equal(r.eax, 0);
    assert_false(r.ebx & (1u << 1));   /* TSC_ADJUST */
    assert_false(r.ebx & (1u << 14));  /* MPX */
    assert_true(r.ebx & (1u << 16));   /* AVX-512F: all of its state is offered */
    assert_false(r.ecx & (1u << 3));   /* PKU */
    assert_true(r.ecx & (1u << 22));   /* RDPID with its own TSC_AUX */
    assert_int_equal(r.edx & 0x9c000000u, 0); /* no speculation-control MSRs */
    v.rdtscp = false;
    v.invpcid = false;
    r = cpuid_guest(host, &v, 7, 0);
    assert_false(r.ecx & (1u << 22));
    assert_false(r.ebx & (1u << 10));
    assert_int_equal(cpuid_guest(host, &v, 7, 1).ebx, 0);
    r = cpuid_guest(host, &v, 0xa, 0);
    assert_int_equal(r.eax | r.ebx | r.ecx | r.edx, 0); /* no performance counters */
    assert_int_equal(cpuid_guest(host, &v, 6, 0).eax, 4); /* ARAT only */
    assert_false(cpuid_guest(host, &v, 0x80000001u, 0).ecx & (1u << 2)); /* SVM */
    assert_false(cpuid_guest(host, &v, 0x80000001u, 0).edx & (1u << 27)); /* RDTSCP */
    assert_int_equal(cpuid_guest(host, &v, 0x80000007u, 0).edx, 0x100);
    assert_int_equal(cpuid_guest(host, &v, 0x8000000au, 0).edx, 0);
    assert_int_equal(cpuid_guest(host, &v, 0, 0).eax, 0x16);
}

static void test_topology(void **state)
{
    (void)state;
    struct cpuid_vcpu v = vcpu(5, 6);
    struct cpuid_regs r = cpuid_guest(host, &v, 0xb, 0);
    assert_int_equal(r.ebx, 1);
    assert_int_equal(r.ecx, 0x100);
    assert_int_equal(r.edx, 5);
    r = cpuid_guest(host, &v, 0xb, 1);
    assert_int_equal(r.eax, 3); /* 6 vCPUs need 3 bits */
    assert_int_equal(r.ebx, 6);
    assert_int_equal(r.ecx, 0x201);
    r = cpuid_guest(host, &v, 0xb, 2);
    assert_int_equal(r.eax | r.ebx, 0);
    assert_int_equal(r.ecx, 2);
    r = cpuid_guest(host, &v, 4, 0);
    assert_int_equal(r.eax >> 26, 5);
    assert_int_equal((r.eax >> 14) & 0xfff, 0); /* L1: one thread */
    r = cpuid_guest(host, &v, 4, 3);
    assert_int_equal((r.eax >> 14) & 0xfff, 5);  /* L3: shared by the VM's vCPUs */
    assert_int_equal(cpuid_guest(host, &v, 0x80000008u, 0).ecx, 5 | 3 << 12);
}

static void test_xsave_leaf(void **state)
{
    (void)state;
    struct cpuid_vcpu v = vcpu(0, 1);
    struct cpuid_regs r = cpuid_guest(host, &v, 0xd, 0);
    assert_int_equal(r.eax, 0xe7);
    assert_int_equal(r.edx, 0);
    assert_int_equal(r.ebx, 576);   /* XCR0 = x87 */
    assert_int_equal(r.ecx, 2688);  /* everything offered: Hi16_ZMM ends at 1664 + 1024 */
    v.xcr0 = 7;
    assert_int_equal(cpuid_guest(host, &v, 0xd, 0).ebx, 832);
    assert_int_equal(cpuid_guest(host, &v, 0xd, 1).eax, 7); /* no XSAVES */
    /* XSAVEC's compacted size for XCR0: legacy + header, then AVX (Linux checks it against
     * its own sum and gives up XSAVE when it differs: measured under Bochs, "XSAVE
     * consistency problem: size 2432 != kernel_size 0"). */
    assert_int_equal(cpuid_guest(host, &v, 0xd, 1).ebx, 576 + 256);
    v.xcr0 = 0xe7;
    assert_int_equal(cpuid_guest(host, &v, 0xd, 1).ebx, 576 + 256 + 64 + 512 + 1024);
    v.xcr0 = 7;
    assert_int_equal(cpuid_guest(host, &v, 0xd, 2).ebx, 576);
    assert_int_equal(cpuid_guest(host, &v, 0xd, 3).eax, 0); /* MPX: not offered */
    assert_int_equal(cpuid_guest(host, &v, 0xd, 9).eax, 0); /* PKRU: not offered */
    host_no_xsave = true;
    v = vcpu(0, 1);
    r = cpuid_guest(host, &v, 0xd, 0);
    host_no_xsave = false;
    assert_int_equal(r.eax | r.ebx | r.ecx | r.edx, 0);
}

static void test_xsetbv_rules(void **state)
{
    (void)state;
    assert_true(cpuid_xsetbv_valid(0, 1, 0xe7));
    assert_true(cpuid_xsetbv_valid(0, 3, 0xe7));
    assert_true(cpuid_xsetbv_valid(0, 7, 0xe7));
    assert_true(cpuid_xsetbv_valid(0, 0xe7, 0xe7));
    assert_false(cpuid_xsetbv_valid(1, 3, 0xe7));      /* only XCR0 */
    assert_false(cpuid_xsetbv_valid(0, 2, 0xe7));      /* x87 must be set */
    assert_false(cpuid_xsetbv_valid(0, 5, 0xe7));      /* AVX without SSE */
    assert_false(cpuid_xsetbv_valid(0, 0x27, 0xe7));   /* part of AVX-512 */
    assert_false(cpuid_xsetbv_valid(0, 0xe3, 0xe7));   /* AVX-512 without AVX */
    assert_false(cpuid_xsetbv_valid(0, 0x207, 0xe7));  /* PKRU: not allowed */
    assert_false(cpuid_xsetbv_valid(0, 7, 3));         /* AVX on a host without it */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed_components), cmocka_unit_test(test_leaf1),
        cmocka_unit_test(test_leaf7_and_pmu),      cmocka_unit_test(test_topology),
        cmocka_unit_test(test_xsave_leaf),         cmocka_unit_test(test_xsetbv_rules),
    };
    return cmocka_run_group_tests_name("cpuid", tests, NULL, NULL);
}
