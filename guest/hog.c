/* hog: spins on every vCPU without exits, printing its progress every `report_ms` (default
 * 100) of guest TSC time; ends after `run_ms` if given (vCPU 0's end ends the VM). */
#include "guest/rt/rt.h"

#define CHUNK 100000

int guest_main(uint32_t vcpu, const struct guest_boot_info *bi)
{
    uint64_t per_ms = bi->tsc_hz / 1000;
    uint64_t report = rt_arg_u64(bi->args, "report_ms", 100) * per_ms;
    uint64_t run = rt_arg_u64(bi->args, "run_ms", 0) * per_ms;
    uint64_t start = rt_rdtsc(), next = start + report, iterations = 0;
    for (;;) {
        for (uint32_t i = 0; i < CHUNK; i++) {
            iterations++;
            __asm__ volatile("" ::: "memory");
        }
        uint64_t now = rt_rdtsc();
        if (report && now >= next) {
            rt_printf("hog vcpu %u: progress %lu iterations\n", vcpu, iterations);
            next += report;
        }
        if (run && now - start >= run)
            break;
    }
    rt_printf("hog vcpu %u: done after %lu iterations\n", vcpu, iterations);
    return 0;
}
