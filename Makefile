# vsched — top-level build.  `make help` lists targets and variables.
#
# Each directory contributes through its own fragment (boot/build.mk, vmm/build.mk, ...):
#   EFI_SRCS    sources linked into the VMM (BOOTX64.EFI), built freestanding
#   UNIT_TESTS  host unit-test programs (cmocka), run by `make test-unit`
#   HOST_TOOLS  host programs under tools/
# A host program is declared with $(eval $(call host_prog,NAME,SOURCES,LIBS)).

BUILD      ?= build
SMP        ?= 4
MEM_MB     ?= 512
CONFIG     ?= tests/configs/default.cfg
BOCHS_CPU  ?= corei7_skylake_x
QEMU_CPU   ?=
TIMEOUT    ?= 600
VERSION    := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

HOST_CC    ?= cc
EFI_CC     ?= gcc
V          ?= 0
Q          := $(if $(filter 1,$(V)),,@)
say         = $(if $(filter 1,$(V)),,@printf '  %-7s %s\n' $(1) $(2))

.DEFAULT_GOAL := all
.SECONDARY:
.PHONY: all help deps deps-test deps-qemu deps-bochs esp run run-bochs test test-unit \
        test-integration clean image

EFI_INC    := /usr/include/efi
EFI_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -I. -I$(EFI_INC) -I$(EFI_INC)/x86_64 \
              -ffreestanding -fno-stack-protector -fpic -fshort-wchar -mno-red-zone \
              -maccumulate-outgoing-args -mgeneral-regs-only -fno-strict-aliasing \
              -DGNU_EFI_USE_MS_ABI -DVSCHED_VMM=1 -DVSCHED_VERSION='"$(VERSION)"' -MMD -MP
EFI_LDFLAGS := -nostdlib -znocombreloc -shared -Bsymbolic -T /usr/lib/elf_x86_64_efi.lds \
               -L/usr/lib
HOST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -I. -MMD -MP
HOST_LDFLAGS :=

EFI_SRCS   :=
UNIT_TESTS :=
HOST_TOOLS :=

# $(call host_prog,NAME,SOURCES,LIBS): link $(BUILD)/host/NAME from SOURCES.
define host_prog
$(BUILD)/host/$(1): $(patsubst %.c,$(BUILD)/host/obj/%.o,$(2))
	@mkdir -p $$(dir $$@)
	$$(call say,LD,$$@)
	$$(Q)$$(HOST_CC) $$(HOST_LDFLAGS) -o $$@ $$^ $(3)
endef

include boot/build.mk
include vmm/build.mk
include sched/build.mk
include guest/build.mk
include tools/build.mk
include tests/build.mk

EFI_OBJS := $(patsubst %,$(BUILD)/efi/obj/%.o,$(basename $(EFI_SRCS)))
VMM_EFI  := $(BUILD)/BOOTX64.EFI
ESP      := $(BUILD)/esp

all: $(VMM_EFI) $(addprefix $(BUILD)/host/,$(HOST_TOOLS))

$(BUILD)/efi/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(EFI_CC) $(EFI_CFLAGS) -c $< -o $@

$(BUILD)/efi/obj/%.o: %.S
	@mkdir -p $(dir $@)
	$(call say,AS,$<)
	$(Q)$(EFI_CC) $(EFI_CFLAGS) -c $< -o $@

$(BUILD)/host/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,HOSTCC,$<)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -c $< -o $@

$(BUILD)/vsched.so: $(EFI_OBJS)
	$(call say,LD,$@)
	$(Q)ld $(EFI_LDFLAGS) /usr/lib/crt0-efi-x86_64.o $^ -o $@ -lefi -lgnuefi

$(VMM_EFI): $(BUILD)/vsched.so
	$(call say,EFI,$@)
	$(Q)objcopy -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela -j .reloc \
	        --target efi-app-x86_64 --subsystem=10 $< $@

# The ESP as a host directory (QEMU and Bochs expose it as a FAT disk).
esp: $(VMM_EFI) $(GUEST_IMAGES)
	tools/mkesp $(ESP) $(VMM_EFI) "$(CONFIG)" $(GUEST_IMAGES)

# A FAT image for a USB stick or a real machine: dd it to the stick.
image: esp
	tools/deps.sh image
	tools/mkimage $(ESP) $(BUILD)/vsched.img

deps:
	@tools/deps.sh build qemu
deps-qemu:
	@tools/deps.sh build qemu
deps-bochs:
	@tools/deps.sh build bochs
deps-test:
	@tools/deps.sh build qemu bochs test

run: deps-qemu
	@$(MAKE) --no-print-directory esp
	tools/run-qemu --esp $(ESP) --smp $(SMP) --mem $(MEM_MB) --timeout $(TIMEOUT) \
	    $(if $(QEMU_CPU),--cpu $(QEMU_CPU))

run-bochs: deps-bochs
	@$(MAKE) --no-print-directory esp
	tools/run-bochs --esp $(ESP) --smp $(SMP) --mem $(MEM_MB) --timeout $(TIMEOUT) \
	    --cpu $(BOCHS_CPU)

test: deps-test
	@$(MAKE) --no-print-directory all $(addprefix $(BUILD)/host/,$(UNIT_TESTS)) $(GUEST_IMAGES)
	@tests/run-tests.sh --build $(BUILD) --unit "$(UNIT_TESTS)" --integration "$(INTEGRATION_TESTS)"

test-unit: deps-test
	@$(MAKE) --no-print-directory $(addprefix $(BUILD)/host/,$(UNIT_TESTS))
	@tests/run-tests.sh --build $(BUILD) --unit "$(UNIT_TESTS)" --integration ""

test-integration: deps-test
	@$(MAKE) --no-print-directory all $(GUEST_IMAGES)
	@tests/run-tests.sh --build $(BUILD) --unit "" --integration "$(INTEGRATION_TESTS)"

clean:
	rm -rf $(BUILD)

help:
	@echo "vsched — targets:"
	@echo "  make run          build and boot the VMM in QEMU + OVMF (KVM if /dev/kvm, else TCG with SVM)"
	@echo "  make run-bochs    build and boot the VMM in Bochs with a VT-x CPU model"
	@echo "  make test         host unit tests, then QEMU and Bochs integration tests"
	@echo "  make test-unit    host unit tests only"
	@echo "  make test-integration   integration tests only"
	@echo "  make bench-sched  cost of one scheduling decision (instructions and ns)"
	@echo "  make mutants      semantic mutations of sched/ the unit tests must catch (tests/mutants)"
	@echo "  make bench-latency  guest wake-up latency under each policy (BENCH_EMU=bochs|qemu)"
	@echo "  make image        FAT image of the ESP for a USB stick ($(BUILD)/vsched.img)"
	@echo "  make deps         install the Debian packages that are missing (as root)"
	@echo "  make clean"
	@echo "variables:"
	@echo "  SMP=$(SMP)           CPUs of the emulated machine"
	@echo "  MEM_MB=$(MEM_MB)       memory of the emulated machine"
	@echo "  CONFIG=$(CONFIG)   configuration copied to the ESP as vsched.cfg ('' for none)"
	@echo "  BOCHS_CPU=$(BOCHS_CPU)   Bochs CPU model for run-bochs"
	@echo "  QEMU_CPU=...       QEMU -cpu string (default: host with KVM, qemu64,+svm,+npt without)"
	@echo "  TIMEOUT=$(TIMEOUT)        seconds before an emulator run is stopped"
	@echo "  BUILD=$(BUILD)        output directory"
	@echo "  V=1                full build commands"

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
