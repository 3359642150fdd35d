#include "vmm/vmx/ept.h"

const struct pt_format ept_format = {
    .table_bits = EPT_RWX,   /* a table entry grants everything; leaves decide */
    .present_mask = EPT_RWX, /* not present = no access at all */
    .large_bit = EPT_LARGE,
};
