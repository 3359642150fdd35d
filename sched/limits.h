/* The limits and names of every scheduling setting, in one table: the library checks them
 * (sched_setup_check, sched_change), the configuration parser (vmm/config.c), the console
 * protocol and the simulator take them from here.  Header only, no code: safe to include from
 * any freestanding or host file. */
#ifndef VSCHED_SCHED_LIMITS_H
#define VSCHED_SCHED_LIMITS_H

/* Sizes: the library's, and the configuration's (vmm/config.h takes them from here, so the
 * parser, the VMM and the simulator accept the same machines).  The VMM starts up to
 * SCHED_MAX_PCPUS CPUs (vmm/cpu.h MAX_CPUS; per-CPU stacks come from free memory); a VM's vCPUs
 * are bounded by its gang-round mask (64 bits, vmm/run.c); VMs and their memory by the
 * machine's RAM (each VM's memory_mb is allocated at boot, and a VM that does not fit stops
 * the boot with a clear error). */
#define SCHED_MAX_PCPUS 256              /* the width of sched_cpumask_t (cpumask.h) */
#define SCHED_MAX_VMS 64
#define SCHED_MAX_VCPUS 4096              /* in total */
#define SCHED_MAX_POOLS 16                /* [pool] sections: disjoint pCPU sets */
#define SCHED_MAX_VCPUS_PER_VM 64         /* configuration and VMM; the library takes up to the total */
#define SCHED_NAME_MAX 24                 /* policy names, including the NUL */

#define SCHED_WEIGHT_MIN 1
#define SCHED_WEIGHT_MAX 65535
#define SCHED_WEIGHT_DEFAULT 256
#define SCHED_CAP_PER_VCPU 100            /* cap_pct is at most this times the VM's vCPUs */

/* Machine parameters, microseconds (the library takes them in ns). */
#define SCHED_TIMESLICE_MIN_US 100
#define SCHED_TIMESLICE_MAX_US 1000000
#define SCHED_TIMESLICE_DEFAULT_US 30000
#define SCHED_RATELIMIT_DEFAULT_US 1000   /* 0 .. timeslice */
#define SCHED_GANG_SKEW_MIN_US 100
#define SCHED_GANG_SKEW_MAX_US 1000000
#define SCHED_GANG_SKEW_DEFAULT_US 3000
#define SCHED_BALANCE_MIN_US 100          /* 0 = off */
#define SCHED_BALANCE_MAX_US 1000000
#define SCHED_BALANCE_DEFAULT_US 10000
#define SCHED_REQUEST_MIN_US 100          /* pshare request; 0 = the default */
#define SCHED_REQUEST_MAX_US 1000000
#define SCHED_RT_PERIOD_MIN_US 100        /* rtds reservation period; budget 1 .. period us */
#define SCHED_RT_PERIOD_MAX_US 1000000

/* Scheduling traces (sched/trace.h): events per pCPU ring, rounded up to a power of two. */
#define SCHED_TRACE_EVENTS_DEFAULT 4096
#define SCHED_TRACE_EVENTS_MAX (1u << 20)

/* Names, in the order of the enums of sched.h (enum sched_gang, enum sched_weight_per). */
#define SCHED_GANG_NAMES "none", "strict", "relaxed"
#define SCHED_GANG_COUNT 3
#define SCHED_WEIGHT_PER_NAMES "vcpu", "vm"
#define SCHED_WEIGHT_PER_COUNT 2

#endif
