# boot/: UEFI entry, ESP files, ACPI MADT, ExitBootServices, AP start-up.
EFI_SRCS += boot/efi_main.c boot/esp.c boot/madt.c boot/smp.c boot/trampoline.S
