/* The machine context of the VM module: every VM, vCPU and pCPU, the scheduler instance,
 * the backend, the boot information and the run's start and end, in one struct machine
 * built once by vm_create_all (vm.c) and passed explicitly to the module's functions (each
 * struct vm points back to it, so code handed a VM or a vCPU reaches it from there).
 * Internal to the VM module (vm.c, vm_linux.c, run.c, report.c, meta.c), through vm_impl.h. */
#ifndef VSCHED_VMM_MACHINE_H
#define VSCHED_VMM_MACHINE_H

#include <stdbool.h>
#include <stdint.h>

#include "sched/hist.h"
#include "sched/sched.h"
#include "vmm/arch.h"
#include "vmm/bootinfo.h"
#include "vmm/console.h"
#include "vmm/dev/uart.h"
#include "vmm/kvm_pv.h"
#include "vmm/sipi.h"
#include "vmm/cpu.h"
#include "vmm/spinlock.h"
#include "vmm/vlapic.h"

#define MAX_VCPUS_TOTAL 256
#define CONSOLE_LINE    160  /* a guest's console line, before escaping */
#define VM_CONSOLE_BYTES 8192 /* a VM's output waiting for the UART (console.h) */

/* IPIs between pCPUs (above the host's device vectors, below the halt IPI's 0xf0). */
#define VEC_KICK        0xe0 /* run the scheduler now */
#define VEC_NOTIFY      0xe1 /* a posted interrupt waits for a vCPU running there */

enum vm_state { VM_RUNNING, VM_EXITED, VM_STOPPED, VM_TIMED_OUT, VM_POWERED_OFF };

/* Exit counters, by what the VMM did with the exit. */
enum vcpu_exit_kind {
    VX_HLT, VX_MSR, VX_IO, VX_CPUID, VX_HC, VX_TIMER, VX_EXTINT, VX_WINDOW, VX_OTHER,
    VX_KINDS
};

struct vm;
struct machine;

struct vcpu {
    /* Its posted-interrupt descriptor, alone in a 4 KiB page: the SDM asks for 64-byte
     * alignment (Vol. 3C 26.2.1.1), Bochs 2.8 and later for a page-aligned address. */
    struct pi_desc *pi;
    struct vm *vm;
    struct arch_vcpu *arch;
    struct sched_vcpu *sv;
    uint32_t id;                /* index in its VM = x2APIC ID */
    struct spinlock lock;       /* lapic, blocked, running_on, owner */
    struct vlapic lapic;
    volatile int32_t running_on;     /* pCPU it is on, -1 when off */
    volatile uint32_t owner;         /* pCPU whose timer serves its APIC timer (last run) */
    volatile uint64_t timer_tsc;     /* its APIC timer's next interrupt, 0 = none */
    bool blocked;               /* halted with interrupts on; the scheduler has it blocked */
    bool halted_for_good;       /* HLT with RFLAGS.IF=0: no interrupt can wake it */
    bool yielded;               /* HC_YIELD: end its time slice */
    bool window;                /* interrupt-window exit requested */
    bool in_gang_round;         /* counted in its VM's on_cpu */
    bool hw_posted;             /* the CPU takes posted interrupts and delivers (VT-x) */
    uint64_t exits[VX_KINDS];
    uint64_t irqs_injected;
    uint64_t emulated_insns;    /* INVD, WBINVD, MONITOR, MWAIT done as nothing */
    uint64_t refused_insns;     /* faults injected for instructions guests may not use */
    char line[CONSOLE_LINE];
    uint32_t line_len;
    /* Linux VMs (vm_linux.c): start-up by INIT/SIPI, the KVM records it registered. */
    enum sipi_state sipi;       /* SIPI_STARTED for every vCPU of other VMs */
    volatile struct kvm_steal *steal; /* VMM address of its steal-time record, NULL = off */
    uint64_t msr_system_time, msr_steal, msr_wall_clock; /* as written (RDMSR returns them) */
};

struct vm {
    struct machine *m;          /* the machine it belongs to */
    const struct cfg_vm *cfg;
    uint32_t id;
    uint64_t mem_hpa, mem_size;
    struct arch_vm *arch;
    struct vcpu *vcpus[CFG_MAX_VCPUS];
    volatile enum vm_state state; /* RUNNING until vm_end decides, once */
    int64_t exit_status;        /* for VM_EXITED, set with the state */
    char why[160];              /* for VM_STOPPED, set with the state */
    struct console_chan console; /* its guests' console lines */
    char console_buf[VM_CONSOLE_BYTES];
    struct spinlock lock;       /* state, and the gang round below */
    uint32_t weight, cap;       /* as configured, or as a console command set them */
    volatile enum cfg_gang gang_mode; /* as configured, or as a console command set it */
    /* Gang rounds: from the first sibling entering a pCPU (none on) to the last one. */
    uint32_t on_cpu;
    uint64_t round_mask;        /* siblings that entered in this round */
    uint64_t round_start_tsc;
    struct hist gang_skew;
    /* Linux VMs (vm_linux.c) */
    bool is_linux;
    struct spinlock uart_lock;  /* uart and uart_line */
    struct uart uart;           /* its COM1 */
    char uart_line[CONSOLE_LINE];
    uint32_t uart_line_len;
    uint64_t sipi_ignored;      /* INIT/STARTUP IPIs that meant nothing (sipi.h) */
};

/* Per pCPU. */
struct pcpu {
    volatile bool resched;           /* a kick arrived: call sched_schedule */
    volatile uint64_t kick_sent_tsc; /* earliest unserved kick to this pCPU, 0 = none */
    uint64_t kicks_sent, kicks_recv, notifies_sent;
    uint64_t idle_ns;
    struct hist kick_lat;
};

/* The machine: created once, by vm_create_all. */
struct machine {
    const struct arch_ops *arch;     /* the backend */
    const struct boot_info *boot;
    struct vm vms[CFG_MAX_VMS];      /* the first nvms are in use */
    uint32_t nvms;
    struct vcpu vcpus[MAX_VCPUS_TOTAL] __attribute__((aligned(64))); /* the first nvcpus */
    uint32_t nvcpus;
    struct pcpu pcpus[MAX_CPUS];
    struct sched *sched;             /* the scheduler library's instance */
    /* The scheduler library's locks (its env gets the machine as ctx). */
    struct spinlock sched_locks[SCHED_MAX_PCPUS + 1 + SCHED_MAX_VMS];
    uint64_t run_start_tsc;          /* VMs built: time 0 of the scheduler's clock */
    uint64_t run_end_tsc;            /* 0 = no limit */
};

/* The one way to the machine without a parameter, for what cannot take one: the kick IPI's
 * handler (run.c; irq_register handlers get only the interrupt frame). */
struct machine *machine_get(void);

#endif
