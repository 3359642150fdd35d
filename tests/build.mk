# tests/: host unit tests (tests/unit) and emulator integration tests (tests/integration).
UNIT_TESTS += test_config
$(eval $(call host_prog,test_config,tests/unit/test_config.c vmm/config.c,-lcmocka))

UNIT_TESTS += test_fmt
$(eval $(call host_prog,test_fmt,tests/unit/test_fmt.c vmm/fmt.c,-lcmocka))
INTEGRATION_TESTS :=
