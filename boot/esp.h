/* Files on the EFI system partition the VMM was loaded from (before ExitBootServices). */
#ifndef VSCHED_BOOT_ESP_H
#define VSCHED_BOOT_ESP_H

#include <efi.h>

/* Open the root directory of the VMM's own volume. */
EFI_STATUS esp_open(EFI_HANDLE image);
/* Read all of NAME (ASCII, in the root directory) into loader-data pool memory, which stays
 * the VMM's after ExitBootServices.  EFI_NOT_FOUND when absent. */
EFI_STATUS esp_read(const char *name, void **data, UINTN *size);

#endif
