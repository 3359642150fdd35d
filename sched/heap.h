/* Intrusive pairing heap: O(1) insert, O(log n) amortized pop and remove, no memory beyond the
 * node inside each element.  The ordering is the caller's LESS function, passed on every call
 * so that one node type serves every policy key (virtual deadline, pass, credit). */
#ifndef VSCHED_SCHED_HEAP_H
#define VSCHED_SCHED_HEAP_H

#include <stdbool.h>
#include <stddef.h>

struct pheap_node {
    struct pheap_node *child; /* leftmost child */
    struct pheap_node *next;  /* right sibling */
    struct pheap_node *prev;  /* left sibling, or the parent for a leftmost child; NULL at root */
};

struct pheap {
    struct pheap_node *root;
};

typedef bool (*pheap_less_fn)(const struct pheap_node *a, const struct pheap_node *b);

static inline void pheap_init(struct pheap *h)
{
    h->root = NULL;
}

static inline struct pheap_node *pheap_min(const struct pheap *h)
{
    return h->root;
}

void pheap_insert(struct pheap *h, struct pheap_node *n, pheap_less_fn less);
struct pheap_node *pheap_pop(struct pheap *h, pheap_less_fn less);
void pheap_remove(struct pheap *h, struct pheap_node *n, pheap_less_fn less);

#endif
