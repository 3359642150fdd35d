/* libFuzzer harness for guest-image loading (vmm/elf.c, vmm/guest_boot.c).  Oracles: an image
 * that is accepted loads inside the VM's memory only (guard bytes around it stay intact), its
 * segments and entry lie inside it, and the boot area is written inside it too; one that is
 * refused says why. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/elf.h"
#include "vmm/guest_boot.h"

#define MEM_SIZE (16u << 20)
#define GUARD    4096u

#include "tests/fuzz/oracle.h"

static uint8_t *arena;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!arena)
        arena = malloc(MEM_SIZE + 2 * GUARD);
    struct elf_info info;
    char err[160] = "";
    if (elf_inspect(data, size, MEM_SIZE, &info, err, sizeof(err)) < 0) {
        check(err[0] && memchr(err, 0, sizeof(err)));
        return 0;
    }
    check(info.nsegments <= ELF_MAX_SEGMENTS && info.top <= MEM_SIZE);
    bool entry_in_x = false;
    for (uint32_t i = 0; i < info.nsegments; i++) {
        const struct elf_segment *s = &info.segments[i];
        check(s->file_size <= s->mem_size && s->gpa >= GUEST_LOAD_MIN);
        check(s->gpa + s->mem_size <= info.top && s->file_off + s->file_size <= size);
        if ((s->flags & 1) && info.entry >= s->gpa && info.entry < s->gpa + s->mem_size)
            entry_in_x = true;
    }
    check(entry_in_x);
    memset(arena, 0xcc, GUARD);
    memset(arena + GUARD + MEM_SIZE, 0xcc, GUARD);
    memset(arena + GUARD, 0, MEM_SIZE);
    uint8_t *mem = arena + GUARD;
    elf_load(data, &info, mem);
    struct guest_layout layout;
    guest_boot_setup(mem, MEM_SIZE, &info, 2, "fuzz", "a=1", 100000000, &layout, err,
                     sizeof(err));
    for (uint32_t i = 0; i < GUARD; i++)
        check(arena[i] == 0xcc && arena[GUARD + MEM_SIZE + i] == 0xcc);
    return 0;
}
