# tests/: host unit tests (tests/unit) and emulator integration tests (tests/integration).
UNIT_TESTS += test_config
$(eval $(call host_prog,test_config,tests/unit/test_config.c vmm/config.c,-lcmocka))

UNIT_TESTS += test_meta
$(eval $(call host_prog,test_meta,tests/unit/test_meta.c sched/meta.c vmm/meta_profile.c vmm/config.c vmm/fmt.c,-lcmocka))
UNIT_TESTS += test_fmt
$(eval $(call host_prog,test_fmt,tests/unit/test_fmt.c vmm/fmt.c,-lcmocka))
UNIT_TESTS += test_pmm
$(eval $(call host_prog,test_pmm,tests/unit/test_pmm.c vmm/pmm.c,-lcmocka))
UNIT_TESTS += test_pagetable
$(eval $(call host_prog,test_pagetable,tests/unit/test_pagetable.c vmm/pagetable.c vmm/vmx/ept.c,-lcmocka))
UNIT_TESTS += test_caps test_madt
$(eval $(call host_prog,test_caps,tests/unit/test_caps.c vmm/vmx/vmx_caps.c vmm/svm/svm_caps.c vmm/fmt.c,-lcmocka))
$(eval $(call host_prog,test_madt,tests/unit/test_madt.c boot/madt.c,-lcmocka))
UNIT_TESTS += test_vmx_ctls
$(eval $(call host_prog,test_vmx_ctls,tests/unit/test_vmx_ctls.c vmm/vmx/vmx_ctls.c vmm/vmx/vmx_caps.c vmm/fmt.c,-lcmocka))
UNIT_TESTS += test_exit_decode
$(eval $(call host_prog,test_exit_decode,tests/unit/test_exit_decode.c vmm/vmx/vmx_exit.c vmm/svm/svm_exit.c,-lcmocka))
UNIT_TESTS += test_guest_image
$(eval $(call host_prog,test_guest_image,tests/unit/test_guest_image.c vmm/elf.c vmm/guest_boot.c vmm/pagetable.c vmm/fmt.c,-lcmocka))
# The image test reads the real guests.
$(BUILD)/host/test_guest_image: | $(GUEST_IMAGES)

# The guests' runtime (guest/rt) parts that run on the host too.
UNIT_TESTS += test_guest_args
$(eval $(call host_prog,test_guest_args,tests/unit/test_guest_args.c guest/rt/args.c,-lcmocka))

UNIT_TESTS += test_proto
$(eval $(call host_prog,test_proto,tests/unit/test_proto.c vmm/proto.c sched/hist.c sched/trace.c,-lcmocka))
UNIT_TESTS += test_vlapic
$(eval $(call host_prog,test_vlapic,tests/unit/test_vlapic.c vmm/vlapic.c,-lcmocka -lpthread))

# The Linux guest's platform pieces (docs/linux.md).  test_acpi runs iasl (tools/deps.sh linux).
UNIT_TESTS += test_acpi test_linux_boot test_uart test_kvm_pv
$(eval $(call host_prog,test_acpi,tests/unit/test_acpi.c vmm/acpi.c vmm/fmt.c,-lcmocka))
$(eval $(call host_prog,test_linux_boot,tests/unit/test_linux_boot.c vmm/linux_boot.c vmm/pagetable.c vmm/fmt.c,-lcmocka))
$(eval $(call host_prog,test_uart,tests/unit/test_uart.c vmm/dev/uart.c,-lcmocka))
$(eval $(call host_prog,test_kvm_pv,tests/unit/test_kvm_pv.c vmm/kvm_pv.c,-lcmocka -lpthread))
# Phase 2: the INIT/SIPI state machine and the platform's fixed ports.
UNIT_TESTS += test_sipi
$(eval $(call host_prog,test_sipi,tests/unit/test_sipi.c vmm/sipi.c vmm/platform.c,-lcmocka))

INTEGRATION_TESTS := $(sort $(wildcard tests/integration/qemu_*.sh tests/integration/bochs_*.sh \
                                     tests/integration/bochs3_*.sh)) \
                     $(sort $(wildcard tests/integration/tools_*.sh)) \
                     tests/hostile/qemu_hostile.sh tests/hostile/bochs_hostile.sh
# The Linux guest's userland in plain QEMU (downloads Debian's packages: docs/linux.md).
INTEGRATION_TESTS += tests/integration/linux_userland.sh

UNIT_TESTS += test_cpuid test_msr_rules test_guest_insn
$(eval $(call host_prog,test_cpuid,tests/unit/test_cpuid.c vmm/cpuid.c,-lcmocka))
$(eval $(call host_prog,test_msr_rules,tests/unit/test_msr_rules.c vmm/msr_rules.c,-lcmocka))
$(eval $(call host_prog,test_guest_insn,tests/unit/test_guest_insn.c vmm/guest_insn.c,-lcmocka))

# Fuzzing (tests/fuzz/README.md): libFuzzer harnesses built with clang.  `make test` runs each
# for a fixed number of inputs (tests/fuzz/fuzz_smoke.sh); `make fuzz FUZZ_S=N` runs each for
# N seconds.
FUZZ_CC      ?= clang
FUZZ_S       ?= 60
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -I. -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all
FUZZ_NAMES   := fuzz_config fuzz_elf fuzz_proto
FUZZ_BINS    := $(addprefix $(BUILD)/fuzz/,$(FUZZ_NAMES))
$(BUILD)/fuzz/fuzz_config: tests/fuzz/fuzz_config.c vmm/config.c
$(BUILD)/fuzz/fuzz_elf: tests/fuzz/fuzz_elf.c vmm/elf.c vmm/guest_boot.c vmm/pagetable.c vmm/fmt.c
$(BUILD)/fuzz/fuzz_proto: tests/fuzz/fuzz_proto.c vmm/proto.c sched/hist.c sched/trace.c vmm/fmt.c
$(FUZZ_BINS):
	@mkdir -p $(dir $@)
	$(call say,FUZZCC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^
INTEGRATION_TESTS += tests/fuzz/fuzz_smoke.sh
.PHONY: fuzz
fuzz: deps-test $(FUZZ_BINS) $(GUEST_IMAGES)
	@tests/fuzz/run.sh --build $(BUILD) --seconds $(FUZZ_S)
