# tools/: host programs.
# vsched-sim: the scheduler library driven by a discrete-event simulator (tools/README.md).
SIM_SRCS := tools/vsched-sim/sim.c tools/vsched-sim/workload.c vmm/config.c vmm/cfg_sched.c $(SCHED_SRCS)
HOST_TOOLS += vsched-sim
$(eval $(call host_prog,vsched-sim,tools/vsched-sim/main.c vmm/proto.c $(SIM_SRCS),-lm))
# vsched-meta: the metascheduler experiment in the simulator (tools/README.md, docs/sched.md).
HOST_TOOLS += vsched-meta
$(eval $(call host_prog,vsched-meta,tools/vsched-sim/meta.c $(SIM_SRCS),-lm))
# vsched-ctl: the host side of the console protocol (docs/protocol.md, tools/README.md).
HOST_TOOLS += vsched-ctl
CTL_SRCS := $(wildcard tools/ctl/*.c) vmm/proto.c sched/hist.c sched/trace.c
$(eval $(call host_prog,vsched-ctl,$(CTL_SRCS),))
# vmlinux-extract: a Debian bzImage's kernel to its ELF vmlinux (docs/linux.md).
HOST_TOOLS += vmlinux-extract
$(eval $(call host_prog,vmlinux-extract,tools/vmlinux-extract.c vmm/linux_boot.c vmm/fmt.c vmm/pagetable.c,))
