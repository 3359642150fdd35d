# tools/: host programs.
# vsched-sim: the scheduler library driven by a discrete-event simulator (tools/README.md).
SIM_SRCS := tools/vsched-sim/sim.c tools/vsched-sim/workload.c vmm/config.c $(SCHED_SRCS)
HOST_TOOLS += vsched-sim
$(eval $(call host_prog,vsched-sim,tools/vsched-sim/main.c $(SIM_SRCS),-lm))
