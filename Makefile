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
.PHONY: all help deps deps-test deps-qemu deps-bochs deps-bochs3 esp run run-bochs test \
        test-unit test-integration clean image linux exp bench-ipi

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
	@# A shared object links with undefined symbols (a libgcc helper such as __udivti3): the
	@# firmware would jump to nowhere.  The VMM is freestanding: none may be left.
	$(Q)if nm -u $@ | grep -q .; then echo "$@: undefined symbols (the VMM has no libgcc):" >&2; \
	    nm -u $@ >&2; rm -f $@; exit 1; fi

$(VMM_EFI): $(BUILD)/vsched.so
	$(call say,EFI,$@)
	$(Q)objcopy -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela -j .reloc \
	        --target efi-app-x86_64 --subsystem=10 $< $@

# The Linux guest (docs/linux.md): Debian's kernel unpacked to its ELF vmlinux, and the
# busybox + rt-tests initramfs, from packages tools/deps.sh linux downloads into LINUX_PKGS.
LINUX_DIR     := $(BUILD)/linux
LINUX_PKGS    ?= /var/cache/vsched/linux
LINUX_VMLINUX := $(LINUX_DIR)/vmlinux
LINUX_INITRD  := $(LINUX_DIR)/initramfs.cpio.gz
LINUX_FILES   := $(LINUX_VMLINUX) $(LINUX_INITRD)
linux: $(LINUX_FILES)
# deps.sh leaves versions untouched when nothing new was fetched, so nothing is rebuilt then.
$(LINUX_PKGS)/versions: FORCE
	@VSCHED_LINUX_PKGS=$(LINUX_PKGS) tools/deps.sh linux
$(LINUX_VMLINUX): $(BUILD)/host/vmlinux-extract $(LINUX_PKGS)/versions
	@mkdir -p $(dir $@)
	$(call say,EXTRACT,$@)
	$(Q)$(BUILD)/host/vmlinux-extract $(wildcard $(LINUX_PKGS)/kernel/boot/vmlinuz-*) $@ \
	    $(wildcard $(LINUX_PKGS)/kernel/boot/config-*) > $(LINUX_DIR)/vmlinux.facts
$(LINUX_INITRD): tools/mkinitramfs guest/linux/init $(LINUX_PKGS)/versions
	@mkdir -p $(dir $@)
	$(call say,CPIO,$@)
	$(Q)tools/mkinitramfs $(LINUX_PKGS) $@ > /dev/null
.PHONY: FORCE
FORCE:
# A configuration with a kernel= or initrd= line gets the Linux files on its ESP.
CONFIG_LINUX  := $(if $(CONFIG),$(shell grep -qsE '^[[:space:]]*(kernel|initrd)[[:space:]]*=' "$(CONFIG)" && echo yes))
ESP_LINUX     := $(if $(CONFIG_LINUX),$(LINUX_FILES))

# The ESP as a host directory (QEMU and Bochs expose it as a FAT disk).
esp: $(VMM_EFI) $(GUEST_IMAGES) $(ESP_LINUX)
	tools/mkesp $(ESP) $(VMM_EFI) "$(CONFIG)" $(GUEST_IMAGES) $(ESP_LINUX)

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
deps-bochs3:
	@tools/deps.sh build bochs bochs3
deps-test:
	@tools/deps.sh build qemu bochs bochs3 test linux

run: deps-qemu
	@$(MAKE) --no-print-directory esp
	tools/run-qemu --esp $(ESP) --smp $(SMP) --mem $(MEM_MB) --timeout $(TIMEOUT) \
	    $(if $(QEMU_CPU),--cpu $(QEMU_CPU))

run-bochs: deps-bochs3
	@$(MAKE) --no-print-directory esp
	tools/run-bochs --esp $(ESP) --smp $(SMP) --mem $(MEM_MB) --timeout $(TIMEOUT) \
	    --cpu $(BOCHS_CPU) $(if $(BOCHS),--bochs $(BOCHS))

test: deps-test
	@$(MAKE) --no-print-directory all $(addprefix $(BUILD)/host/,$(UNIT_TESTS)) $(GUEST_IMAGES) \
	    $(FUZZ_BINS)
	@tests/run-tests.sh --build $(BUILD) --unit "$(UNIT_TESTS)" --integration "$(INTEGRATION_TESTS)"

test-unit: deps-test
	@$(MAKE) --no-print-directory $(addprefix $(BUILD)/host/,$(UNIT_TESTS))
	@tests/run-tests.sh --build $(BUILD) --unit "$(UNIT_TESTS)" --integration ""

test-integration: deps-test
	@$(MAKE) --no-print-directory all $(GUEST_IMAGES)
	@tests/run-tests.sh --build $(BUILD) --unit "" --integration "$(INTEGRATION_TESTS)"

# IPI and kick latency of the software posted-interrupt path (Bochs 2.7) and the VT-x hardware
# path (Bochs 3.0), same configuration, side by side (tools/bench-ipi).
bench-ipi: deps-bochs3
	@$(MAKE) --no-print-directory all $(GUEST_IMAGES)
	tools/bench-ipi --build $(BUILD)

# The Linux guest's experiments under QEMU (tools/bench-linux, docs/linux.md): cyclictest per
# policy next to hogs, hackbench per gang mode next to a competing VM.
bench-linux: deps-qemu linux
	@$(MAKE) --no-print-directory all $(GUEST_IMAGES)
	tools/bench-linux --build $(BUILD)

# The whole Linux boot under Bochs (~5 min; make test runs it cut at 5 s of machine time).
test-linux-full: deps-test linux
	@$(MAKE) --no-print-directory all $(GUEST_IMAGES)
	BOCHS_LINUX_FULL=1 tests/run-tests.sh --build $(BUILD) --unit "" --integration tests/integration/bochs_linux.sh

clean:
	rm -rf $(BUILD)

# An experiment matrix (tools/vsched-exp, tools/README.md): make exp EXP=FILE [EXP_OUT=DIR]
EXP ?=
EXP_OUT ?=
exp: all $(GUEST_IMAGES)
	@test -n "$(EXP)" || { echo "make exp: EXP=FILE (an experiment file, tools/README.md)" >&2; exit 2; }
	tools/vsched-exp $(EXP) --build $(BUILD) $(if $(EXP_OUT),--out $(EXP_OUT))

help:
	@echo "vsched — targets:"
	@echo "  make all          build the VMM ($(BUILD)/BOOTX64.EFI) and the host tools ($(BUILD)/host/)"
	@echo "  make guests       build the test guests ($(BUILD)/guest/*.elf)"
	@echo "  make esp          the ESP directory $(BUILD)/esp: VMM, CONFIG as vsched.cfg, guests"
	@echo "  make run          build and boot the VMM in QEMU + OVMF (KVM if /dev/kvm, else TCG with SVM)"
	@echo "  make run-bochs    build and boot the VMM in Bochs with a VT-x CPU model"
	@echo "  make test         host unit tests, then QEMU, Bochs and tools integration tests"
	@echo "  make test-unit    host unit tests only"
	@echo "  make test-integration   integration tests only"
	@echo "  make fuzz         every fuzz harness for FUZZ_S seconds (default 60)"
	@echo "  make bench-sched  cost of one scheduling decision (instructions and ns)"
	@echo "  make mutants      semantic mutations of sched/ the unit tests must catch (tests/mutants)"
	@echo "  make bench-latency  guest wake-up latency under each policy (BENCH_EMU=bochs|qemu);"
	@echo "                   logs, CSV and plots in $(BUILD)/bench-latency"
	@echo "  make bench-meta   the metascheduler experiment in the VMM (META_EMU=qemu|bochs)"
	@echo "  make exp EXP=FILE run an experiment matrix (tools/vsched-exp; EXP_OUT=DIR)"
	@echo "  make bench-ipi    IPI/kick latency: software posted interrupts (Bochs 2.7) vs hardware (Bochs 3.0)"
	@echo "  make bench-linux  Linux guest: cyclictest per policy next to hogs, hackbench per gang mode (QEMU)"
	@echo "  make test-linux-full  the whole Linux boot under Bochs (~5 min; make test cuts it at 5 s)"
	@echo "  make image        FAT image of the ESP for a USB stick ($(BUILD)/vsched.img)"
	@echo "  make linux        the Linux guest from Debian packages: $(LINUX_VMLINUX), $(LINUX_INITRD)"
	@echo "  make deps         install the Debian packages that are missing (as root)"
	@echo "  make deps-qemu, deps-bochs, deps-test   the packages for QEMU runs, Bochs runs, the tests"
	@echo "  make clean        remove $(BUILD)"
	@echo "  make help         this text"
	@echo "host tools (each has --help): $(BUILD)/host/vsched-ctl (session, summary, top,"
	@echo "  export, plot), $(BUILD)/host/vsched-sim, tools/vsched-exp, tools/bench-latency,"
	@echo "  tools/run-qemu, tools/run-bochs, tools/mkesp, tools/mkimage, tools/deps.sh"
	@echo "variables:"
	@echo "  SMP=$(SMP)           CPUs of the emulated machine"
	@echo "  MEM_MB=$(MEM_MB)       memory of the emulated machine"
	@echo "  CONFIG=$(CONFIG)   configuration copied to the ESP as vsched.cfg ('' for none)"
	@echo "  BOCHS_CPU=$(BOCHS_CPU)   Bochs CPU model for run-bochs"
	@echo "  BOCHS=2.7|3.0      Bochs version for run-bochs (default: the newest installed; 3.0 runs"
	@echo "                     the VT-x hardware posted-interrupt path)"
	@echo "  QEMU_CPU=...       QEMU -cpu string (default: host with KVM, qemu64,+svm,+npt without)"
	@echo "  TIMEOUT=$(TIMEOUT)        seconds before an emulator run is stopped"
	@echo "  BENCH_EMU=bochs    emulator of make bench-latency (bochs or qemu)"
	@echo "  TEST_JOBS=2        integration tests run at once"
	@echo "  BUILD=$(BUILD)        output directory"
	@echo "  LINUX_PKGS=$(LINUX_PKGS)   where tools/fetch-linux unpacks the Linux guest's packages"
	@echo "  V=1                full build commands"

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
