#include "vmm/sipi.h"

static int vector_valid(uint8_t vector)
{
    /* SDM Vol. 3A 11.6.1: vectors 0x00 and 0xA0-0xBF are reserved for STARTUP. */
    return vector != 0 && !(vector >= 0xa0 && vector <= 0xbf);
}

enum sipi_action sipi_event(enum sipi_state *state, enum sipi_event event, uint8_t vector)
{
    switch (event) {
    case SIPI_EV_INIT:
        if (*state == SIPI_STARTED)
            return SIPI_ACT_IGNORED;
        *state = SIPI_WAIT_SIPI;
        return SIPI_ACT_NONE;
    case SIPI_EV_INIT_DEASSERT:
        return SIPI_ACT_NONE;
    case SIPI_EV_STARTUP:
        if (*state != SIPI_WAIT_SIPI || !vector_valid(vector))
            return SIPI_ACT_IGNORED;
        *state = SIPI_STARTED;
        return SIPI_ACT_START;
    }
    return SIPI_ACT_IGNORED;
}

const char *sipi_state_name(enum sipi_state s)
{
    switch (s) {
    case SIPI_WAIT_INIT: return "wait-init";
    case SIPI_WAIT_SIPI: return "wait-sipi";
    case SIPI_STARTED: return "started";
    }
    return "?";
}
