/* vsched.cfg — the one file that describes the machine and its VMs.
 *
 * INI-style: `[machine]` and `[vm NAME]` sections, `key = value` lines, `#` or `;` comments to
 * the end of a line.  The reference for every key is docs/config.md.  The parser is pure and
 * freestanding: the VMM (boot/), the simulator (tools/) and the unit tests share it.
 *
 * cfg_parse() either fills *out completely or returns an error and leaves *out untouched, so a
 * bad file is never half-applied. */
#ifndef VSCHED_VMM_CONFIG_H
#define VSCHED_VMM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/cpumask.h"
#include "sched/limits.h"

#define CFG_MAX_VMS        SCHED_MAX_VMS
#define CFG_MAX_POOLS      SCHED_MAX_POOLS /* with the default pool */
#define CFG_POOL_INHERIT   UINT32_MAX      /* a [pool] parameter not given: the [machine]'s */
#define CFG_MAX_VCPUS      SCHED_MAX_VCPUS_PER_VM /* per VM */
#define CFG_MAX_PCPUS      SCHED_MAX_PCPUS
#define CFG_NAME_MAX       24   /* VM names, policy names; includes the NUL */
#define CFG_PATH_MAX       64   /* image file names on the ESP */
#define CFG_TEXT_MAX       160  /* args, workload */
#define CFG_CMDLINE_MAX    512  /* a Linux VM's cmdline */
#define CFG_ERR_MAX        160

enum cfg_gang { CFG_GANG_NONE, CFG_GANG_STRICT, CFG_GANG_RELAXED }; /* = enum sched_gang */
enum cfg_weight_per { CFG_WEIGHT_PER_VCPU, CFG_WEIGHT_PER_VM };      /* = enum sched_weight_per */
enum cfg_expect { CFG_EXPECT_EXIT, CFG_EXPECT_STOPPED };
enum cfg_fault { CFG_FAULT_NONE, CFG_FAULT_UD, CFG_FAULT_PF, CFG_FAULT_DE };
enum cfg_vm_selftest { CFG_SELFTEST_NONE, CFG_SELFTEST_BAD_ENTRY };

struct cfg_vm {
    char name[CFG_NAME_MAX];
    uint32_t vcpus;           /* 1..CFG_MAX_VCPUS, default 1 */
    uint32_t memory_mb;       /* 1..4096, default 16 */
    uint32_t weight;          /* 1..65535, default 256 */
    uint32_t cap;             /* percent of one pCPU, 0 = none, at most 100 * vcpus */
    enum cfg_gang gang;       /* default none */
    sched_cpumask_t affinity; /* pCPUs that may run this VM's vCPUs; default all */
    uint32_t start_pcpus;     /* entries of start_pcpu given: 0 (spread by load), 1 (all), vcpus */
    int16_t start_pcpu[CFG_MAX_VCPUS]; /* pCPU each vCPU starts on (may move later) */
    uint32_t request_us;      /* pshare request size, 0 = the time slice, else 100..1000000 */
    uint32_t rt_budget_us;    /* rtds: reservation of each vCPU per period, 0 = none */
    uint32_t rt_period_us;    /* rtds: 100..1000000 when a budget is set */
    uint32_t rt_extratime;    /* rtds: 1 (default) = may run beyond its budget in idle time */
    char meta_policy[CFG_NAME_MAX]; /* metascheduler: this VM's preferred policy, "" = none */
    uint32_t meta_weight;     /* metascheduler: its slot's weight, 1..1000000; 0 = not given
                                 (1, or from [machine] meta_profile) */
    char pool_name[CFG_NAME_MAX]; /* its [pool], "" = the default pool */
    uint32_t pool;            /* index into cfg.pools (0 = default), from pool_name */
    enum cfg_expect expect;   /* default exit */
    enum cfg_vm_selftest selftest; /* bad_entry: start with an illegal CR3, to test reports */
    char image[CFG_PATH_MAX]; /* ELF on the ESP; "" = none */
    char kernel[CFG_PATH_MAX];  /* Linux: vmlinux or bzImage on the ESP; "" = none (not with image) */
    char initrd[CFG_PATH_MAX];  /* Linux: initramfs on the ESP; "" = none (needs kernel) */
    char cmdline[CFG_CMDLINE_MAX]; /* Linux: after the VMM's own options (needs kernel) */
    char args[CFG_TEXT_MAX];  /* passed to the guest */
    char workload[CFG_TEXT_MAX]; /* simulator only: "hog", "periodic period_us=.. run_us=..", ... */
    uint32_t line;            /* line of the [vm] header, for later error reports */
};

struct cfg_machine {
    uint32_t pcpus;           /* 0 = all the CPUs the machine has */
    char policy[CFG_NAME_MAX];/* scheduler policy name, default "credit" */
    uint32_t timeslice_us;    /* 100..1000000, default 30000 */
    uint32_t ratelimit_us;    /* 0..timeslice_us, default 1000 */
    uint32_t gang_skew_us;    /* relaxed gang skew threshold, 100..1000000, default 3000 */
    uint32_t balance_us;      /* load-balancing period, 0 = off or 100..1000000, default 10000 */
    enum cfg_weight_per weight_per; /* a VM's weight is each vCPU's (vcpu) or shared (vm) */
    uint32_t run_ms;          /* machine time before the VMM stops the VMs; 0 = until they exit */
    uint32_t report_ms;       /* accounting record period (default 5000); 0 = only at the end */
    uint32_t min_timer_period_us; /* shortest guest APIC timer period/delay, default 200 */
    uint32_t switch_cost_ns;  /* simulator: cost of one context switch, default 0 */
    uint64_t seed;            /* simulator: random seed, default 1 */
    enum cfg_fault inject_fault;  /* self-test: raise this exception after boot */
    uint32_t inject_fault_cpu;    /* on this CPU */
    uint32_t inject_fault_ms;     /* 0: after boot; else this long into the VMs' run */
    uint32_t meta_tb_us;      /* metascheduler base timeslice, 0 = off (vmm/meta.c) */
    char meta_profile[CFG_PATH_MAX]; /* metascheduler: weights from this profile on the ESP
                                        (tools/vsched-meta --profile-out), "" = meta_weight */
    int meta_rule;            /* enum sched_meta_rule: how the profile gives weights */
    char meta_general[CFG_NAME_MAX]; /* the profile's general scheduler, "" = policy */
    char meta_pool_name[CFG_NAME_MAX]; /* the pool whose policy it switches, "" = default */
    uint32_t meta_pool;       /* its index (cfg.pools), from meta_pool_name */
    int trace;                /* scheduling trace on from the start (0 off, 1 on) */
    uint32_t trace_events;    /* trace ring per pCPU, events (sched/trace.h), default 4096 */
};

/* A CPU pool (Xen's cpupools): its pCPUs run only its VMs, with its own policy and
 * parameters.  Pool 0 is "default": the pCPUs no [pool] names, with [machine]'s policy and
 * parameters; [pool NAME] sections are 1.. in file order. */
struct cfg_pool {
    char name[CFG_NAME_MAX];
    sched_cpumask_t pcpus;    /* named pools: required, disjoint; default: the rest */
    char policy[CFG_NAME_MAX];/* "" = [machine]'s */
    uint32_t timeslice_us, ratelimit_us, gang_skew_us, balance_us; /* CFG_POOL_INHERIT = [machine]'s */
    uint32_t line;            /* of its header (0: default) */
};

struct cfg {
    struct cfg_machine machine;
    uint32_t nvms;
    struct cfg_vm vms[CFG_MAX_VMS];
    uint32_t npools;          /* 1 (default) + [pool] sections */
    struct cfg_pool pools[CFG_MAX_POOLS];
};

/* The pCPUs of pool I on a machine of NPCPUS (default: those no named pool has). */
sched_cpumask_t cfg_pool_cpus(const struct cfg *c, uint32_t i, uint32_t npcpus);
/* Pool I's parameters with [machine]'s where it inherits, in microseconds. */
void cfg_pool_params(const struct cfg *c, uint32_t i, uint32_t *timeslice_us,
                     uint32_t *ratelimit_us, uint32_t *gang_skew_us, uint32_t *balance_us);
/* Index of the pool named NAME (of LEN bytes), or -1. */
int cfg_pool_find(const struct cfg *c, const char *name, size_t len);

struct cfg_error {
    uint32_t line;            /* 1-based; 0 = not tied to one line */
    char msg[CFG_ERR_MAX];
};

/* Returns true when NAME is a scheduler policy the caller knows (sched_policy_find() in the
 * VMM and the simulator); NULL accepts any name. */
typedef bool (*cfg_policy_known_fn)(const char *name);

/* Defaults for a machine with no configuration file. */
void cfg_defaults(struct cfg *out);

/* Parse LEN bytes of TEXT.  Returns 0 and fills *OUT, or -1 and fills *ERR (OUT untouched). */
int cfg_parse(const char *text, size_t len, cfg_policy_known_fn policy_known,
              struct cfg *out, struct cfg_error *err);

/* Names for printing. */
const char *cfg_gang_name(enum cfg_gang g);
const char *cfg_expect_name(enum cfg_expect e);

#endif
