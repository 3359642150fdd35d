#include "vmm/platform.h"

bool platform_port_read(uint16_t port, uint8_t size, uint32_t *value)
{
    uint32_t ones = size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    switch (port) {
    case 0x21:
    case 0xa1: *value = 0xff & ones; return true;
    case 0x42:
    case 0x61: *value = 0; return true;
    case 0xcf8:
    case 0xcfc: *value = ones; return true;
    default: return false;
    }
}
