#include "boot/esp.h"

#include <efilib.h>

static EFI_FILE_HANDLE root;

EFI_STATUS esp_open(EFI_HANDLE image)
{
    EFI_LOADED_IMAGE *li;
    EFI_STATUS st = uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol,
                                      (void **)&li);
    if (EFI_ERROR(st))
        return st;
    root = LibOpenRoot(li->DeviceHandle);
    return root ? EFI_SUCCESS : EFI_NOT_FOUND;
}

EFI_STATUS esp_read(const char *name, void **data, UINTN *size)
{
    CHAR16 wide[128];
    UINTN n = 0;
    for (; name[n] && n + 1 < sizeof(wide) / sizeof(wide[0]); n++)
        wide[n] = (CHAR16)name[n];
    wide[n] = 0;

    EFI_FILE_HANDLE f;
    EFI_STATUS st = uefi_call_wrapper(root->Open, 5, root, &f, wide, EFI_FILE_MODE_READ, 0);
    if (EFI_ERROR(st))
        return st;
    EFI_FILE_INFO *info = LibFileInfo(f);
    if (!info) {
        uefi_call_wrapper(f->Close, 1, f);
        return EFI_DEVICE_ERROR;
    }
    UINTN len = info->FileSize;
    FreePool(info);
    void *buf = NULL;
    st = uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, len ? len : 1, &buf);
    if (!EFI_ERROR(st)) {
        UINTN got = len;
        st = uefi_call_wrapper(f->Read, 3, f, &got, buf);
        if (!EFI_ERROR(st) && got != len)
            st = EFI_DEVICE_ERROR;
        if (EFI_ERROR(st))
            FreePool(buf);
    }
    uefi_call_wrapper(f->Close, 1, f);
    if (EFI_ERROR(st))
        return st;
    *data = buf;
    *size = len;
    return EFI_SUCCESS;
}
