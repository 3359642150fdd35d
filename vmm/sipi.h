/* A vCPU's start-up state under INIT and STARTUP IPIs (SDM Vol. 3A 9.4.4 "MP Initialization
 * Example", 11.6.1 ICR delivery modes; APM Vol. 2 16.5): the boot vCPU runs from power-on; every
 * other vCPU of a Linux VM waits for SIPI (blocked in the scheduler, never on a pCPU) until a
 * sibling sends INIT then STARTUP, and then starts in real mode at VECTOR << 12.
 *
 * What vsched does where hardware would do more: an INIT to a vCPU that already started is
 * ignored (a real CPU would reset into wait-for-SIPI; vsched never resets a vCPU that may be
 * running on another pCPU, so a guest cannot make a sibling lose its state), and only the
 * first STARTUP after INIT counts (later ones are ignored, as a started CPU ignores them).
 * Pure: one function of (state, event). */
#ifndef VSCHED_VMM_SIPI_H
#define VSCHED_VMM_SIPI_H

#include <stdint.h>

enum sipi_state {
    SIPI_WAIT_INIT, /* power-on state of an AP: nothing but INIT counts */
    SIPI_WAIT_SIPI, /* INIT received: the next STARTUP starts it */
    SIPI_STARTED,   /* running (the boot vCPU from the start) */
};

enum sipi_event {
    SIPI_EV_INIT,          /* INIT, level assert */
    SIPI_EV_INIT_DEASSERT, /* INIT level de-assert: no effect (SDM 11.6.1) */
    SIPI_EV_STARTUP,       /* STARTUP with a vector */
};

enum sipi_action {
    SIPI_ACT_NONE,          /* state may change, nothing to do on the vCPU */
    SIPI_ACT_START,         /* start the vCPU in real mode at the vector (the state is STARTED) */
    SIPI_ACT_IGNORED,       /* a meaningless event here (INIT to a started vCPU, STARTUP
                               without INIT or after start): counted, nothing changes */
};

/* Apply EVENT to *STATE; returns what the VMM must do.  STARTUP with a vector below 0x01 or
 * in 0xA0..0xBF (start addresses in the first page or the legacy VGA/BIOS window, which SDM
 * 11.6.1 calls reserved) is ignored. */
enum sipi_action sipi_event(enum sipi_state *state, enum sipi_event event, uint8_t vector);

const char *sipi_state_name(enum sipi_state s);

#endif
