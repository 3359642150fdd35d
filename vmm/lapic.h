/* The local APIC of each CPU, in xAPIC (MMIO) or x2APIC (MSR) mode — whichever the firmware
 * left it in (SDM Vol. 3A 11.4, 11.12). */
#ifndef VSCHED_VMM_LAPIC_H
#define VSCHED_VMM_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

/* Read the APIC base and mode; call once on the BSP before anything else here. */
void lapic_detect(void);
bool lapic_x2apic_mode(void);
uint64_t lapic_mmio_base(void);
/* Software-enable the calling CPU's APIC. */
void lapic_enable_this(void);
uint32_t lapic_id(void);
void lapic_eoi(void);
void lapic_send_ipi(uint32_t apic_id, uint8_t vector);
void lapic_send_init(uint32_t apic_id);
void lapic_send_sipi(uint32_t apic_id, uint8_t page);
/* NMI to every other CPU (no-op before lapic_detect). */
void lapic_nmi_others(void);

/* The APIC timer as the hypervisor's one-shot timer (TSC-deadline mode where the CPU has it), for CPUs without a VMX-preemption timer
 * (SVM, or VT-x without it).  Calibrated against the TSC once on the BSP; the rate is the
 * same on every CPU.  arm: fire at TSC value DEADLINE (0 = disarm); take_expired: whether it
 * fired since it was armed on this CPU (and forget it). */
#define VEC_APIC_TIMER 0xef
void lapic_timer_calibrate(void);
uint64_t lapic_timer_hz(void);
/* Whether lapic_timer_arm uses TSC-deadline mode (CPUID.1:ECX[24]) rather than one-shot. */
bool lapic_timer_tsc_deadline(void);
void lapic_timer_arm(uint64_t deadline_tsc);
bool lapic_timer_take_expired(void);

#endif
