/* Formatted output into a buffer, for a freestanding VMM: %d %i %u %x %X %p %s %c %%, with
 * flags '-' and '0', a field width, and the length modifiers hh h l ll z.  Always
 * NUL-terminates (when size > 0) and returns the length the full output would have had. */
#ifndef VSCHED_VMM_FMT_H
#define VSCHED_VMM_FMT_H

#include <stdarg.h>
#include <stddef.h>

size_t fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
size_t fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
