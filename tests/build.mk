# tests/: host unit tests (tests/unit) and emulator integration tests (tests/integration).
UNIT_TESTS += test_config
$(eval $(call host_prog,test_config,tests/unit/test_config.c vmm/config.c,-lcmocka))

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
$(eval $(call host_prog,test_proto,tests/unit/test_proto.c vmm/proto.c,-lcmocka))
UNIT_TESTS += test_vlapic
$(eval $(call host_prog,test_vlapic,tests/unit/test_vlapic.c vmm/vlapic.c,-lcmocka -lpthread))

INTEGRATION_TESTS := $(sort $(wildcard tests/integration/qemu_*.sh tests/integration/bochs_*.sh \
                                     tests/integration/bochs3_*.sh))
