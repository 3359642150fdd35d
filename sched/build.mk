# sched/: freestanding scheduler library (compiled into the VMM and for the host).
SCHED_SRCS := sched/runq.c sched/cap.c sched/place.c sched/gang.c sched/core.c sched/setup.c \
              sched/change.c sched/observe.c sched/policies.c sched/credit.c sched/pshare.c \
              sched/rr.c sched/fifo.c sched/lottery.c sched/stride.c sched/null.c \
              sched/rtds.c sched/reserve.c sched/credit2.c sched/meta.c \
              sched/heap.c sched/hist.c sched/trace.c
EFI_SRCS += $(SCHED_SRCS)

# The pCPU-set API (sched/cpumask.h, header only).
UNIT_TESTS += test_cpumask
$(eval $(call host_prog,test_cpumask,tests/unit/test_cpumask.c,-lcmocka))

# Unit and property tests (tests/unit/test_sched_*.c).  The property tests drive the library
# through the simulator engine, so they link it too.
SCHED_TEST_SIM := tools/vsched-sim/sim.c tools/vsched-sim/workload.c vmm/config.c vmm/cfg_sched.c
SCHED_TESTS := test_sched_heap test_sched_hist test_sched_core test_sched_credit \
               test_sched_pshare test_sched_baselines test_sched_gang test_sched_balance \
               test_sched_props test_sched_threads test_sched_sim test_sched_shares \
               test_sched_rtds test_sched_credit2 test_sched_trace test_sched_pools
UNIT_TESTS += $(SCHED_TESTS)
$(foreach t,$(SCHED_TESTS),$(eval $(call host_prog,$(t),tests/unit/$(t).c tests/unit/sched_testlib.c $(SCHED_TEST_SIM) $(SCHED_SRCS),-lcmocka -lm -lpthread)))

# make bench-sched: cost of one scheduling decision (instructions with callgrind, ns with the
# host clock); tools/vsched-sim/bench.sh prints the table that docs/sched.md carries.
.PHONY: bench-sched
bench-sched: $(BUILD)/host/sched-bench
	tools/vsched-sim/bench.sh $(BUILD)/host/sched-bench
HOST_TOOLS += sched-bench # built with everything, so that a change that breaks it shows at once
$(eval $(call host_prog,sched-bench,tools/vsched-sim/bench.c $(SCHED_SRCS),))

# make bench-latency: the guest tail-latency benchmark, policies side by side (Bochs by
# default, deterministic emulated time; BENCH_EMU=qemu for TCG).  Prints a table.
BENCH_EMU ?= bochs
.PHONY: bench-latency
bench-latency: deps-$(BENCH_EMU) $(BUILD)/host/sched-bench
	@$(MAKE) --no-print-directory all $(GUEST_IMAGES)
	tools/bench-latency --build $(BUILD) --emu $(BENCH_EMU)

# make bench-meta: the metascheduler experiment in the VMM (QEMU by default: META_EMU=bochs is
# deterministic but ~1 min per run): profile per policy, then every rule x base timeslice with
# the VMM weighting from that profile (tools/bench-meta).
META_EMU ?= qemu
.PHONY: bench-meta
bench-meta: deps-$(META_EMU) $(BUILD)/host/sched-bench
	@$(MAKE) --no-print-directory all $(GUEST_IMAGES)
	tools/bench-meta --build $(BUILD) --emu $(META_EMU)

# make mutants: every semantic mutation of tests/mutants/*.patch must make a scheduler unit
# test fail (tests/mutants/run.sh: KILLED / SURVIVED per mutant; non-zero if one survives).
.PHONY: mutants
mutants: deps-test
	@tests/mutants/run.sh $(BUILD)
