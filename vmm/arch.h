/* The boundary between the VMM and hardware virtualization.  Each backend (vmm/vmx/,
 * vmm/svm/) provides one `struct arch_ops`; nothing outside those directories knows which
 * one runs.  This interface is only the probe; running vCPUs comes with the backends. */
#ifndef VSCHED_VMM_ARCH_H
#define VSCHED_VMM_ARCH_H

#include <stddef.h>

struct arch_ops {
    const char *name;
    /* Write the one-line capability report into LINE.  Returns NULL when guests can run on
     * this backend here, else a short reason why not.  Reads CPUID/MSRs only. */
    const char *(*probe)(char *line, size_t size);
};

extern const struct arch_ops vmx_arch_ops;
extern const struct arch_ops svm_arch_ops;

/* Print every backend's capability line, then the choice; returns the backend guests will
 * use, or NULL when this CPU has none. */
const struct arch_ops *arch_select(void);

#endif
