# tests/: host unit tests (tests/unit) and emulator integration tests (tests/integration).
UNIT_TESTS += test_config
$(eval $(call host_prog,test_config,tests/unit/test_config.c vmm/config.c,-lcmocka))

UNIT_TESTS += test_fmt
$(eval $(call host_prog,test_fmt,tests/unit/test_fmt.c vmm/fmt.c,-lcmocka))
UNIT_TESTS += test_pmm
$(eval $(call host_prog,test_pmm,tests/unit/test_pmm.c vmm/pmm.c,-lcmocka))
UNIT_TESTS += test_pagetable
$(eval $(call host_prog,test_pagetable,tests/unit/test_pagetable.c vmm/pagetable.c,-lcmocka))
UNIT_TESTS += test_caps test_madt
$(eval $(call host_prog,test_caps,tests/unit/test_caps.c vmm/vmx/vmx_caps.c vmm/svm/svm_caps.c vmm/fmt.c,-lcmocka))
$(eval $(call host_prog,test_madt,tests/unit/test_madt.c boot/madt.c,-lcmocka))
INTEGRATION_TESTS :=
