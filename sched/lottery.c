/* lottery (Waldspurger & Weihl 1994): each time slice goes to a queued vCPU drawn with
 * probability weight / total.  The draw walks the queue: O(n), kept as the linear reference.
 * The PRNG is splitmix64, one stream per pCPU seeded from the setup seed: deterministic. */
#include "sched/fifoq.h"

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void lottery_init_pcpu(struct sched_pcpu *p, uint64_t now)
{
    fifoq_init_pcpu(p, now);
    FIFOQ_P(p)->rng = p->s->seed ^ ((uint64_t)(p->id + 1) * 0xd1b54a32d192ed03ull);
}

static struct sched_vcpu *lottery_pick(struct sched_pcpu *p, uint64_t now)
{
    (void)now;
    struct fifoq_pcpu *lp = FIFOQ_P(p);
    if (slist_empty(&lp->q))
        return NULL;
    uint64_t ticket = splitmix64(&lp->rng) % lp->tickets, sum = 0;
    struct slist *pos;
    slist_for_each(pos, &lp->q) {
        struct sched_vcpu *v = SCHED_CONTAINER_OF((void *)pos, struct sched_vcpu, pol);
        sum += v->weight;
        if (ticket < sum) {
            fifoq_remove(p, v);
            return v;
        }
    }
    return NULL; /* unreachable: tickets is the sum of the queued weights */
}

const struct sched_policy sched_policy_lottery =
    FIFOQ_POLICY("lottery", lottery_init_pcpu, lottery_pick, fifoq_timeslice_ns);
