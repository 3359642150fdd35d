/* Caps: a token bucket per VM, shared by its vCPUs (VM lock).
 *
 * The budget earns cap_pct % of the wall time, continuously, and is spent by the run time of
 * every vCPU of the VM.  A vCPU whose VM has no budget left (<= 0) is parked; parked vCPUs run
 * again once the budget has earned one quota back (Q = cap_pct % of SCHED_CAP_PERIOD_NS:
 * 10 ms of earning), so parking comes in pieces of about 10 ms, as with 10 ms windows.
 *
 * The bucket holds up to D = 2 Q + one time slice per pCPU the cap allows: a VM that waits its
 * turn behind other vCPUs (up to a slice of each, or a few lottery draws) keeps earning, and
 * uses that budget when its turn comes.  That
 * is what makes a cap an upper bound and nothing more: under contention a capped VM gets
 * min(cap, its fair share) whatever the slice length.  (With unused budget lost at every
 * 10 ms window, a capped VM waiting behind a 30 ms slice loses its budget and gets far less
 * than its cap: 33 % for cap 50 next to one hog.)  The price: after an idle stretch a capped
 * VM may run up to D at full speed before it is parked (it starts with one quota: a VM capped
 * at set-up or by a change has not been idle).  The long-run share is exact: budget
 * is never created, overdraft (a vCPU charged past 0 before its pCPU's timer fired) carries
 * over.  Budget is kept as ns x 100 so that earning at cap_pct % is exact in integers. */
#include "sched/cap.h"

#include "sched/util.h"

static void vm_lock(struct sched *s, struct sched_vm *vm)
{
    s->env.lock(s->env.ctx, s->npcpus + 1 + vm->id);
}

static void vm_unlock(struct sched *s, struct sched_vm *vm)
{
    s->env.unlock(s->env.ctx, s->npcpus + 1 + vm->id);
}

/* Q and D above, in budget units (ns x 100). */
static int64_t quota(const struct sched_vm *vm)
{
    return (int64_t)(SCHED_CAP_PERIOD_NS * vm->cap_pct);
}

static int64_t depth(const struct sched_vm *vm)
{
    uint64_t pcpus = (vm->cap_pct + 99) / 100;
    return 2 * quota(vm) + (int64_t)(sched_vm_params(vm)->timeslice_ns * pcpus * 100);
}

/* Earns up to NOW.  The bucket is clamped at D only while none of the VM's vCPUs runs: a
 * running vCPU's time is charged later (sched_cap_charge), and what it spends meanwhile must
 * come out of what was earned meanwhile, not out of a clamped bucket. */
static void refill_locked(struct sched *s, struct sched_vm *vm, uint64_t now)
{
    (void)s;
    if (now <= vm->cap_stamp_ns)
        return;
    int64_t d = depth(vm);
    uint64_t dt = now - vm->cap_stamp_ns;
    vm->cap_stamp_ns = now;
    /* dt * cap_pct without overflow: past 2 D of earning the bucket is full anyway. */
    uint64_t full = (uint64_t)(2 * d) / vm->cap_pct + 1;
    vm->cap_budget += (int64_t)((dt < full ? dt : full) * vm->cap_pct);
    if (!vm->cap_running && vm->cap_budget > d)
        vm->cap_budget = d;
}

void sched_cap_set(struct sched *s, struct sched_vm *vm, uint32_t cap_pct, uint64_t now)
{
    vm_lock(s, vm);
    vm->cap_pct = cap_pct;
    /* One quota to start with, not a full bucket: a VM capped (at boot or at run time) has
     * not been idle, and a full bucket would let it run D at full speed first (a 0.77 s run
     * capped at 50 % measured 54 %). */
    vm->cap_budget = quota(vm);
    vm->cap_stamp_ns = now;
    vm_unlock(s, vm);
}

int64_t sched_cap_budget(struct sched *s, struct sched_vm *vm, uint64_t now)
{
    vm_lock(s, vm);
    refill_locked(s, vm, now);
    int64_t b = vm->cap_budget / 100;
    vm_unlock(s, vm);
    return b;
}

void sched_cap_charge(struct sched *s, struct sched_vm *vm, uint64_t ran, uint64_t now)
{
    vm_lock(s, vm);
    refill_locked(s, vm, now);
    vm->cap_budget -= (int64_t)ran * 100;
    int64_t d = depth(vm);
    if (vm->cap_budget > d)
        vm->cap_budget = d;
    vm_unlock(s, vm);
}

void sched_cap_running_add(struct sched *s, struct sched_vm *vm, int d)
{
    if (!sched_capped(vm))
        return;
    vm_lock(s, vm);
    vm->cap_running += (uint32_t)d;
    vm_unlock(s, vm);
}

bool sched_cap_release(struct sched *s, struct sched_vm *vm, uint64_t now)
{
    vm_lock(s, vm);
    refill_locked(s, vm, now);
    bool go = vm->cap_budget >= quota(vm);
    vm_unlock(s, vm);
    return go;
}

/* The budget falls by (running x 100 - cap_pct) per ns while RUNNING vCPUs run. */
uint64_t sched_cap_stop_ns(struct sched *s, struct sched_vm *vm, uint64_t now)
{
    vm_lock(s, vm);
    refill_locked(s, vm, now);
    int64_t b = vm->cap_budget;
    uint64_t n = vm->cap_running ? vm->cap_running : 1;
    vm_unlock(s, vm);
    if (n * 100 <= vm->cap_pct)
        return SCHED_NO_EVENT; /* earns at least what they spend */
    return now + (b > 0 ? (uint64_t)b / (n * 100 - vm->cap_pct) : 0) + 1;
}

uint64_t sched_cap_release_ns(struct sched *s, struct sched_vm *vm, uint64_t now)
{
    vm_lock(s, vm);
    refill_locked(s, vm, now);
    int64_t missing = quota(vm) - vm->cap_budget;
    vm_unlock(s, vm);
    if (missing <= 0)
        return now;
    return now + ((uint64_t)missing + vm->cap_pct - 1) / vm->cap_pct;
}
