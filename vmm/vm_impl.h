/* Internal to the VM module (vm.c: VMs, vCPUs, exits and virtual interrupts; vm_linux.c: a
 * Linux VM's platform (boot, COM1, ACPI ports, INIT/SIPI, the KVM interface); run.c: the
 * per-pCPU scheduling loop; report.c: accounting records and console commands; meta.c: the
 * metascheduler's slots).  Nothing outside these files includes it: the module's interface
 * is vmm/vm.h.  What they share is the machine context (machine.h), passed as a parameter
 * or reached from a VM (vm->m), never through globals. */
#ifndef VSCHED_VMM_VM_IMPL_H
#define VSCHED_VMM_VM_IMPL_H

#include "vmm/machine.h"

/* vm.c */
uint64_t vm_now_ns(const struct machine *m);
uint64_t vm_ns_to_tsc(const struct machine *m, uint64_t ns); /* absolute: run-relative ns -> TSC */
bool vm_ended(const struct vm *vm);
void vm_stop(struct vm *vm, const char *reason, uint64_t rip, uint64_t a);
void vm_timeout_all(struct machine *m);
bool vm_all_ended(const struct machine *m);
void vm_final_report(const struct machine *m) __attribute__((noreturn));
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
uint64_t vm_fire_timers(struct machine *m, uint32_t self, uint64_t now_tsc, uint64_t exit_tsc);

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
/* Console input for a Linux VM's COM1 (cmd=input): queued all or nothing.  0, or -1 when the
 * VM has no UART (not a Linux VM), -2 when its queue lacks room (*WAITING: the bytes the
 * guest has not read yet). */
int lx_vm_input(struct vm *vm, const uint8_t *bytes, uint32_t n, uint32_t *waiting);
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
void run_kick(struct machine *m, sched_cpumask_t mask); /* IPIs to these pCPUs (own: flag) */
void run_notify(struct machine *m, uint32_t pcpu); /* posted-interrupt notification */
void run_kick_all(struct machine *m);

/* report.c */
void report_init(struct machine *m);
/* pCPU 0, between runs: console commands, periodic records; returns the next TSC at which it
 * wants to run again (0 = none). */
uint64_t report_poll(struct machine *m, uint64_t now_tsc);
void report_round(struct machine *m, bool final);
void report_finish(struct machine *m); /* the run's end: answer what came in, finish a trace drain */
void report_gang_round(struct vm *vm, uint64_t skew_tsc);

/* meta.c: the metascheduler's slots ([machine] meta_tb_us, [vm] meta_policy, meta_weight) */
void meta_init(struct machine *m);
uint64_t meta_poll(struct machine *m, uint64_t now_tsc); /* pCPU 0; next boundary, 0 = none */
void meta_finish(const struct machine *m); /* the switch count and cost line */
/* Console: a new base timeslice from the next boundary (0 = off); false (nothing changed)
 * when no VM names a preferred policy. */
bool meta_set_tb(uint32_t tb_us);

#endif
