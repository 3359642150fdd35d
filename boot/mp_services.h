/* EFI_MP_SERVICES_PROTOCOL (UEFI PI Specification Vol. 2, 13.4), which gnu-efi does not
 * declare.  vsched uses only its inventory calls, before ExitBootServices. */
#ifndef VSCHED_BOOT_MP_SERVICES_H
#define VSCHED_BOOT_MP_SERVICES_H

#include <efi.h>

#define EFI_MP_SERVICES_PROTOCOL_GUID                                                        \
    { 0x3fdda605, 0xa76e, 0x4f46, { 0xad, 0x29, 0x12, 0xf4, 0x53, 0x1b, 0x3d, 0x08 } }

#define MP_PROCESSOR_AS_BSP  0x1u
#define MP_PROCESSOR_ENABLED 0x2u

typedef struct {
    UINT64 ProcessorId; /* the local APIC ID */
    UINT32 StatusFlag;
    struct {
        UINT32 Package, Core, Thread;
    } Location;
} EFI_MP_PROCESSOR_INFORMATION;

struct _EFI_MP_SERVICES_PROTOCOL;
typedef struct _EFI_MP_SERVICES_PROTOCOL EFI_MP_SERVICES_PROTOCOL;

struct _EFI_MP_SERVICES_PROTOCOL {
    EFI_STATUS(EFIAPI *GetNumberOfProcessors)(EFI_MP_SERVICES_PROTOCOL *self, UINTN *count,
                                              UINTN *enabled);
    EFI_STATUS(EFIAPI *GetProcessorInfo)(EFI_MP_SERVICES_PROTOCOL *self, UINTN number,
                                         EFI_MP_PROCESSOR_INFORMATION *info);
    void *StartupAllAPs, *StartupThisAP, *SwitchBSP, *EnableDisableAP, *WhoAmI;
};

#endif
