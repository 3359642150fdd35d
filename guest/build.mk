# guest/: test guests, freestanding x86-64 ELF executables linked at 1 MiB (guest ABI v1).
GUEST_NAMES  := hello hog bad timer gang ipi hostile
GUEST_IMAGES := $(patsubst %,$(BUILD)/guest/%.elf,$(GUEST_NAMES))
GUEST_CFLAGS := -std=gnu11 -m64 -O2 -g -ffreestanding -fno-pic -fno-pie -mno-red-zone \
                -mgeneral-regs-only -fno-stack-protector -fno-asynchronous-unwind-tables \
                -Wall -Wextra -Werror -I. -MMD -MP
GUEST_RT_OBJS := $(addprefix $(BUILD)/guest/obj/,guest/rt/crt0.o guest/rt/rt.o \
                   guest/rt/args.o guest/rt/irq.o guest/rt/irq_stubs.o guest/rt/jmp.o vmm/fmt.o vmm/string.o)

$(BUILD)/guest/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,GUESTCC,$<)
	$(Q)$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(BUILD)/guest/obj/%.o: %.S
	@mkdir -p $(dir $@)
	$(call say,GUESTAS,$<)
	$(Q)$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(BUILD)/guest/%.elf: $(BUILD)/guest/obj/guest/%.o $(GUEST_RT_OBJS) guest/rt/guest.ld
	$(call say,GUESTLD,$@)
	$(Q)ld -T guest/rt/guest.ld -nostdlib -static -z max-page-size=4096 -z noexecstack \
	   -o $@ $(filter %.o,$^)

guests: $(GUEST_IMAGES)
.PHONY: guests
