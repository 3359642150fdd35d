/* Intrusive circular doubly linked list: FIFO runqueues without any allocation. */
#ifndef VSCHED_SCHED_LIST_H
#define VSCHED_SCHED_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct slist {
    struct slist *prev, *next;
};

#define SCHED_CONTAINER_OF(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static inline void slist_init(struct slist *h)
{
    h->prev = h->next = h;
}

static inline bool slist_empty(const struct slist *h)
{
    return h->next == h;
}

static inline void slist_add_tail(struct slist *h, struct slist *n)
{
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}

/* Unlinks N and leaves it self-linked, so a second delete is harmless. */
static inline void slist_del(struct slist *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

static inline struct slist *slist_first(const struct slist *h)
{
    return slist_empty(h) ? NULL : h->next;
}

#define slist_for_each(pos, head) for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

/* Safe against deleting POS inside the loop. */
#define slist_for_each_safe(pos, tmp, head) \
    for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); (pos) = (tmp), (tmp) = (pos)->next)

#endif
