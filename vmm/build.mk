# vmm/: the machine — console, memory, CPUs, interrupts, timers, configuration, VMs, backends.
VMM_PURE_SRCS := vmm/config.c vmm/proto.c vmm/fmt.c vmm/pmm.c vmm/pagetable.c vmm/elf.c \
                 vmm/guest_boot.c vmm/vmx/vmx_caps.c vmm/vmx/vmx_ctls.c vmm/vmx/vmx_exit.c vmm/vmx/ept.c \
                 vmm/svm/svm_caps.c vmm/svm/svm_exit.c vmm/vlapic.c vmm/cpuid.c vmm/msr_rules.c \
                 vmm/guest_insn.c vmm/linux_boot.c vmm/acpi.c vmm/dev/uart.c vmm/kvm_pv.c vmm/platform.c vmm/sipi.c \
                 vmm/cfg_sched.c vmm/meta_profile.c vmm/meta_profile.c
EFI_SRCS += $(VMM_PURE_SRCS) vmm/xstate.c vmm/string.c vmm/console.c vmm/cpu.c vmm/isr.S vmm/halt.c \
            vmm/lapic.c vmm/tsc.c vmm/mem.c vmm/arch.c vmm/main.c vmm/vm.c vmm/vm_linux.c vmm/run.c vmm/report.c vmm/meta.c \
            vmm/vmx/vmx.c vmm/vmx/vmx_entry.S vmm/svm/svm.c vmm/svm/svm_entry.S
