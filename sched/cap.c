/* Caps: VM-wide budgets, enforced over SCHED_CAP_PERIOD_NS windows.  See cap.h. */
#include "sched/cap.h"

static int64_t cap_quota(const struct sched_vm *vm)
{
    return (int64_t)(SCHED_CAP_PERIOD_NS * vm->cap_pct / 100);
}

static void vm_lock(struct sched *s, struct sched_vm *vm)
{
    s->env.lock(s->env.ctx, s->npcpus + 1 + vm->id);
}

static void vm_unlock(struct sched *s, struct sched_vm *vm)
{
    s->env.unlock(s->env.ctx, s->npcpus + 1 + vm->id);
}

void sched_cap_set(struct sched *s, struct sched_vm *vm, uint32_t cap_pct, uint64_t now)
{
    vm_lock(s, vm);
    vm->cap_pct = cap_pct;
    vm->cap_budget_ns = cap_quota(vm);
    vm->cap_period_end_ns = now + SCHED_CAP_PERIOD_NS;
    vm_unlock(s, vm);
}

/* New windows add the quota; overdraft carries over (so the long-run share is exact) but
 * unused budget does not accumulate beyond one window. */
static void cap_refill_locked(struct sched_vm *vm, uint64_t now)
{
    if (now < vm->cap_period_end_ns)
        return;
    uint64_t k = (now - vm->cap_period_end_ns) / SCHED_CAP_PERIOD_NS + 1;
    vm->cap_period_end_ns += k * SCHED_CAP_PERIOD_NS;
    int64_t q = cap_quota(vm);
    int64_t b = vm->cap_budget_ns + (k > 2 ? 2 : (int64_t)k) * q;
    vm->cap_budget_ns = b > q ? q : b;
}

int64_t sched_cap_budget(struct sched *s, struct sched_vm *vm, uint64_t now)
{
    vm_lock(s, vm);
    cap_refill_locked(vm, now);
    int64_t b = vm->cap_budget_ns;
    vm_unlock(s, vm);
    return b;
}

void sched_cap_charge(struct sched *s, struct sched_vm *vm, uint64_t ran, uint64_t now)
{
    vm_lock(s, vm);
    vm->cap_budget_ns -= (int64_t)ran;
    cap_refill_locked(vm, now);
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
    return sched_cap_budget(s, vm, now) > 0;
}

uint64_t sched_cap_stop_ns(struct sched *s, struct sched_vm *vm, uint64_t now)
{
    vm_lock(s, vm);
    cap_refill_locked(vm, now);
    int64_t b = vm->cap_budget_ns;
    uint32_t n = vm->cap_running ? vm->cap_running : 1;
    vm_unlock(s, vm);
    return now + (b > 0 ? (uint64_t)b / n : 0) + 1;
}

uint64_t sched_cap_release_ns(struct sched *s, struct sched_vm *vm, uint64_t now)
{
    (void)now;
    vm_lock(s, vm);
    uint64_t t = vm->cap_period_end_ns;
    vm_unlock(s, vm);
    return t;
}
