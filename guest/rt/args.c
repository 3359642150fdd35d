/* `key=value` arguments (rt_arg_u64, rt_arg_str): pure, so the host unit tests share it. */
#include <string.h>

#include "guest/rt/rt.h"

/* The value of KEY in ARGS: a pointer into ARGS and its length, or NULL. */
static const char *arg_find(const char *args, const char *key, size_t *len)
{
    size_t klen = strlen(key);
    for (const char *p = args; *p;) {
        while (*p == ' ')
            p++;
        const char *word = p;
        while (*p && *p != ' ')
            p++;
        if ((size_t)(p - word) > klen && memcmp(word, key, klen) == 0 && word[klen] == '=') {
            *len = (size_t)(p - word) - klen - 1;
            return word + klen + 1;
        }
    }
    return NULL;
}

uint64_t rt_arg_u64(const char *args, const char *key, uint64_t dflt)
{
    size_t len;
    const char *v = arg_find(args, key, &len);
    if (!v || !len)
        return dflt;
    unsigned base = 10;
    if (len > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        base = 16;
        v += 2;
        len -= 2;
    }
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = v[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (base == 16 && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (unsigned)((c | 0x20) - 'a' + 10);
        else
            return dflt;
        n = n * base + d;
    }
    return n;
}

bool rt_arg_str(const char *args, const char *key, char *buf, size_t size)
{
    size_t len;
    const char *v = arg_find(args, key, &len);
    if (!v || !size)
        return false;
    if (len >= size)
        len = size - 1;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return true;
}
