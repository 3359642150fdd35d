#include "vmm/arch.h"

#include "vmm/console.h"

static const struct arch_ops *const backends[] = { &vmx_arch_ops, &svm_arch_ops };

const struct arch_ops *arch_select(void)
{
    const struct arch_ops *chosen = NULL;
    const char *why[2];
    for (unsigned i = 0; i < 2; i++) {
        char line[640];
        why[i] = backends[i]->probe(line, sizeof(line));
        kprintf("%s\n", line);
        if (!why[i] && !chosen)
            chosen = backends[i];
    }
    if (chosen)
        kprintf("virt: backend %s\n", chosen->name);
    else
        kprintf("virt: no backend can run guests here (vmx: %s; svm: %s)\n", why[0], why[1]);
    return chosen;
}
