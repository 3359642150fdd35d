/* Time: the TSC, calibrated once against the PIT (channel 2, 8254 at 1.193182 MHz). */
#ifndef VSCHED_VMM_TSC_H
#define VSCHED_VMM_TSC_H

#include <stdint.h>

/* Measure the TSC rate; returns it in Hz.  BSP only, before APs run. */
uint64_t tsc_calibrate(void);
uint64_t tsc_hz(void);
uint64_t tsc_to_ns(uint64_t tsc);
uint64_t tsc_now_ns(void);
void tsc_delay_us(uint64_t us);

#endif
