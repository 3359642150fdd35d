#include "vmm/fmt.h"

#include <stdbool.h>
#include <stdint.h>

struct out {
    char *buf;
    size_t size;
    size_t len; /* characters produced so far, including those that did not fit */
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void pad(struct out *o, char c, int n)
{
    while (n-- > 0)
        put(o, c);
}

/* Emit TEXT of length N in a field of WIDTH, honouring '-' (left) and '0' (zero pad, which
 * goes after a sign). */
static void field(struct out *o, const char *text, int n, int width, bool left, bool zero)
{
    int fill = width > n ? width - n : 0;
    if (left) {
        for (int i = 0; i < n; i++)
            put(o, text[i]);
        pad(o, ' ', fill);
        return;
    }
    if (zero && n > 0 && text[0] == '-') {
        put(o, '-');
        text++;
        n--;
    }
    pad(o, zero ? '0' : ' ', fill);
    for (int i = 0; i < n; i++)
        put(o, text[i]);
}

static int utoa(uint64_t v, unsigned base, bool upper, char *tmp)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char rev[24];
    int n = 0, len = 0;
    do {
        rev[n++] = digits[v % base];
        v /= base;
    } while (v);
    while (n)
        tmp[len++] = rev[--n];
    return len;
}

size_t fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { buf, size, 0 };

    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put(&o, *p);
            continue;
        }
        p++;
        bool left = false, zero = false;
        for (;; p++) {
            if (*p == '-')
                left = true;
            else if (*p == '0')
                zero = true;
            else
                break;
        }
        int width = 0;
        while (*p >= '0' && *p <= '9')
            width = width * 10 + (*p++ - '0');
        int lmod = 0; /* -2 hh, -1 h, 0 int, 1 long, 2 long long / size_t */
        for (;; p++) {
            if (*p == 'l')
                lmod++;
            else if (*p == 'z')
                lmod = 2;
            else if (*p == 'h')
                lmod--;
            else
                break;
        }

        char tmp[24];
        int n;
        uint64_t u;
        switch (*p) {
        case 'd':
        case 'i': {
            int64_t s = lmod >= 1 ? va_arg(ap, long long) : va_arg(ap, int);
            if (lmod == -1)
                s = (short)s;
            else if (lmod <= -2)
                s = (signed char)s;
            bool neg = s < 0;
            u = neg ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
            tmp[0] = '-';
            n = utoa(u, 10, false, tmp + neg) + neg;
            field(&o, tmp, n, width, left, zero);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
            u = lmod >= 1 ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned int);
            if (lmod == -1)
                u = (unsigned short)u;
            else if (lmod <= -2)
                u = (unsigned char)u;
            n = utoa(u, *p == 'u' ? 10 : 16, *p == 'X', tmp);
            field(&o, tmp, n, width, left, zero);
            break;
        case 'p':
            tmp[0] = '0';
            tmp[1] = 'x';
            n = utoa((uintptr_t)va_arg(ap, void *), 16, false, tmp + 2) + 2;
            field(&o, tmp, n, width, left, false);
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            int len = 0;
            while (s[len])
                len++;
            field(&o, s, len, width, left, false);
            break;
        }
        case 'c':
            tmp[0] = (char)va_arg(ap, int);
            field(&o, tmp, 1, width, left, false);
            break;
        case '%':
            put(&o, '%');
            break;
        case '\0':
            p--; /* a lone '%' at the end: print nothing more */
            break;
        default: /* unknown conversion: show it, so the bug is visible */
            put(&o, '%');
            put(&o, *p);
            break;
        }
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return o.len;
}

size_t fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = fmt_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
