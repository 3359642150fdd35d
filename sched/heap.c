/* Pairing heap (Fredman, Sedgewick, Sleator, Tarjan 1986) with the two-pass merge, written
 * without recursion so its stack use is constant in the VMM. */
#include "sched/heap.h"

static void node_clear(struct pheap_node *n)
{
    n->child = n->next = n->prev = NULL;
}

/* Links two roots; the loser becomes the winner's leftmost child. */
static struct pheap_node *meld(struct pheap_node *a, struct pheap_node *b, pheap_less_fn less)
{
    if (!a)
        return b;
    if (!b)
        return a;
    if (less(b, a)) {
        struct pheap_node *t = a;
        a = b;
        b = t;
    }
    b->prev = a;
    b->next = a->child;
    if (a->child)
        a->child->prev = b;
    a->child = b;
    a->next = a->prev = NULL;
    return a;
}

/* Two-pass merge of a sibling list: pair left to right, then fold right to left. */
static struct pheap_node *merge_pairs(struct pheap_node *first, pheap_less_fn less)
{
    struct pheap_node *stack = NULL;
    while (first) {
        struct pheap_node *a = first, *b = a->next, *rest = b ? b->next : NULL;
        a->next = a->prev = NULL;
        if (b)
            b->next = b->prev = NULL;
        struct pheap_node *m = meld(a, b, less);
        m->next = stack; /* the stack reuses NEXT: pairs are roots until the second pass */
        stack = m;
        first = rest;
    }
    struct pheap_node *res = NULL;
    while (stack) {
        struct pheap_node *s = stack;
        stack = s->next;
        s->next = NULL;
        res = meld(res, s, less);
    }
    return res;
}

void pheap_insert(struct pheap *h, struct pheap_node *n, pheap_less_fn less)
{
    node_clear(n);
    h->root = meld(h->root, n, less);
}

struct pheap_node *pheap_pop(struct pheap *h, pheap_less_fn less)
{
    struct pheap_node *r = h->root;
    if (!r)
        return NULL;
    h->root = merge_pairs(r->child, less);
    if (h->root)
        h->root->prev = NULL;
    node_clear(r);
    return r;
}

void pheap_remove(struct pheap *h, struct pheap_node *n, pheap_less_fn less)
{
    if (n == h->root) {
        pheap_pop(h, less);
        return;
    }
    /* Unlink N (with its subtree) from its sibling list, then meld its merged children back. */
    if (n->prev->child == n)
        n->prev->child = n->next;
    else
        n->prev->next = n->next;
    if (n->next)
        n->next->prev = n->prev;
    struct pheap_node *sub = merge_pairs(n->child, less);
    node_clear(n);
    h->root = meld(h->root, sub, less);
}
