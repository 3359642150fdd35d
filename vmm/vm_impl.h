/* Internal to the VM module (vm.c: VMs, vCPUs, exits and virtual interrupts; vm_linux.c: a
 * Linux VM's platform (boot, COM1, ACPI ports, INIT/SIPI, the KVM interface); run.c: the
 * per-pCPU scheduling loop; report.c: accounting records and console commands).  Nothing
 * outside these four files includes it: the module's interface is vmm/vm.h. */
#ifndef VSCHED_VMM_VM_IMPL_H
#define VSCHED_VMM_VM_IMPL_H

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

/* State shared by the module's files (defined in vm.c). */
extern const struct arch_ops *vm_arch;
extern const struct boot_info *vm_boot;
extern struct vm vm_table[CFG_MAX_VMS];
extern uint32_t vm_count;
extern struct vcpu vcpu_table[MAX_VCPUS_TOTAL]; /* the first vcpu_count are in use */
extern uint32_t vcpu_count;
extern struct sched *vm_sched;
extern struct pcpu pcpu_table[MAX_CPUS];
extern uint64_t run_start_tsc, run_end_tsc;

/* vm.c */
uint64_t vm_now_ns(void);
uint64_t vm_ns_to_tsc(uint64_t ns);   /* absolute: run-relative ns -> TSC value */
bool vm_ended(const struct vm *vm);
void vm_stop(struct vm *vm, const char *reason, uint64_t rip, uint64_t a);
void vm_timeout_all(void);
bool vm_all_ended(void);
void vm_final_report(void) __attribute__((noreturn));
void vcpu_lock(struct vcpu *v);
void vcpu_unlock(struct vcpu *v);
/* Exit handling: what the run loop does next with the vCPU. */
enum vcpu_next { VCPU_CONTINUE, VCPU_BLOCKED, VCPU_YIELD, VCPU_ENDED };
enum vcpu_next vcpu_handle_exit(struct vcpu *v, const struct vexit *e);
/* Before each entry: pending virtual interrupts become an injection or an interrupt window
 * (or, with hardware posting, the virtual-APIC page); after each exit: take back what the
 * CPU delivered. */
void vcpu_prepare_entry(struct vcpu *v);
void vcpu_after_exit(struct vcpu *v);
/* This pCPU's APIC timers that are due: raise their interrupts and wake their vCPUs.
 * Returns the earliest APIC timer this pCPU serves after that, 0 = none.  EXIT_TSC: when the
 * pCPU came here from a vCPU's exit, the TSC right after it (the time since is charged to
 * the timers' owners, sched_vcpu_charge); 0 otherwise. */
uint64_t vm_fire_timers(uint32_t self, uint64_t now_tsc, uint64_t exit_tsc);

/* A byte of guest console output into LINE (*LEN bytes so far): a finished line goes to VM's
 * console channel, prefixed and escaped. */
void vm_console_byte(struct vm *vm, char *line, uint32_t *len, char c);
void vm_poweroff(struct vm *vm);

/* vm_linux.c */
struct vcpu_start;
/* Load a Linux VM: kernel, initrd, command line, zero page, ACPI tables into its memory; the
 * boot vCPU's start state in *BSP.  Stops the boot with a configuration error on failure. */
void lx_vm_load(struct vm *vm, struct vcpu_start *bsp);
/* Port I/O of a Linux VM's platform (COM1, ACPI PM ports, the fixed legacy ports): true when
 * handled (*VALUE read), false for the default (writes ignored, reads all ones). */
bool lx_vm_io(struct vcpu *v, uint16_t port, bool in, uint32_t *value);
/* INIT and STARTUP IPIs from FROM to TO (any VM vCPU). */
void lx_vcpu_init_sipi(struct vcpu *from, struct vcpu *to, const struct vlapic_ipi *ipi);
/* The KVM MSRs: true when MSR is one (then *OK says whether the access is allowed). */
bool lx_kvm_msr(struct vcpu *v, bool write, uint32_t msr, uint64_t *value, bool *ok);
/* Before V runs on a pCPU: its steal-time record gets the VMM's ready time. */
void lx_vcpu_steal_update(struct vcpu *v);
/* V left its pCPU still runnable. */
void lx_vcpu_preempted(struct vcpu *v);

/* run.c */
void run_init(void);
void run_kick(sched_cpumask_t mask);          /* IPIs to these pCPUs (the caller's own: flag) */
void run_notify(uint32_t pcpu);               /* posted-interrupt notification */
void run_kick_all(void);

/* report.c */
void report_init(void);
/* pCPU 0, between runs: console commands, periodic records; returns the next TSC at which it
 * wants to run again (0 = none). */
uint64_t report_poll(uint64_t now_tsc);
void report_round(bool final);
void report_finish(void); /* the run's end: answer what came in, finish a trace drain */
void report_gang_round(struct vm *vm, uint64_t skew_tsc);

/* meta.c: the metascheduler's slots ([machine] meta_tb_us, [vm] meta_policy, meta_weight) */
void meta_init(void);
uint64_t meta_poll(uint64_t now_tsc); /* pCPU 0, between runs; the next boundary, 0 = none */
void meta_finish(void);               /* the switch count and cost line */
/* Console: a new base timeslice from the next boundary (0 = off); false (nothing changed)
 * when no VM names a preferred policy. */
bool meta_set_tb(uint32_t tb_us);

#endif
