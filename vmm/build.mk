# vmm/: the machine — console, memory, CPUs, interrupts, timers, configuration, backends.
VMM_PURE_SRCS := vmm/config.c vmm/fmt.c vmm/pmm.c vmm/pagetable.c \
                 vmm/vmx/vmx_caps.c vmm/svm/svm_caps.c
EFI_SRCS += $(VMM_PURE_SRCS) vmm/string.c vmm/console.c vmm/cpu.c vmm/isr.S vmm/halt.c \
            vmm/lapic.c vmm/tsc.c vmm/mem.c vmm/arch.c vmm/main.c vmm/vmx/vmx.c vmm/svm/svm.c
