/* hello: every vCPU prints one line; vCPU 0 waits for all of them (yielding its pCPU) and
 * exits with the status given as `status=N` (default 0). */
#include "guest/rt/rt.h"

static volatile uint32_t printed;

int guest_main(uint32_t vcpu, const struct guest_boot_info *bi)
{
    rt_printf("hello from vcpu %u of %u, args='%s'\n", vcpu, bi->vcpus, bi->args);
    __atomic_fetch_add(&printed, 1, __ATOMIC_SEQ_CST);
    if (vcpu != 0)
        return 0;
    /* Waiting for siblings that may share this pCPU: give them the CPU. */
    while (__atomic_load_n(&printed, __ATOMIC_SEQ_CST) < bi->vcpus)
        hc_yield();
    return (int)rt_arg_u64(bi->args, "status", 0);
}
