/* VMCS field encodings (SDM Vol. 3D Appendix B) and control bits (SDM Vol. 3C 25.6-25.8),
 * only those vsched uses. */
#ifndef VSCHED_VMX_VMCS_H
#define VSCHED_VMX_VMCS_H

/* 16-bit */
#define VMCS_VPID                 0x0000
#define VMCS_GUEST_ES_SEL         0x0800 /* ES, CS, SS, DS, FS, GS, LDTR, TR: +2 each */
#define VMCS_GUEST_CS_SEL         0x0802
#define VMCS_GUEST_TR_SEL         0x080e
#define VMCS_HOST_ES_SEL          0x0c00
#define VMCS_HOST_CS_SEL          0x0c02
#define VMCS_HOST_SS_SEL          0x0c04
#define VMCS_HOST_DS_SEL          0x0c06
#define VMCS_HOST_FS_SEL          0x0c08
#define VMCS_HOST_GS_SEL          0x0c0a
#define VMCS_HOST_TR_SEL          0x0c0c
/* 64-bit */
#define VMCS_IO_BITMAP_A          0x2000
#define VMCS_IO_BITMAP_B          0x2002
#define VMCS_MSR_BITMAP           0x2004
#define VMCS_EPT_POINTER          0x201a
#define VMCS_GUEST_PHYS_ADDR      0x2400
#define VMCS_LINK_POINTER         0x2800
#define VMCS_GUEST_DEBUGCTL       0x2802
#define VMCS_GUEST_PAT            0x2804
#define VMCS_GUEST_EFER           0x2806
#define VMCS_HOST_PAT             0x2c00
#define VMCS_HOST_EFER            0x2c02
/* 32-bit */
#define VMCS_PI_NOTIFY_VECTOR     0x0002 /* 16-bit control */
#define VMCS_GUEST_INTR_STATUS    0x0810 /* 16-bit guest: RVI (7:0), SVI (15:8) */
#define VMCS_VIRTUAL_APIC_ADDR    0x2012
#define VMCS_PI_DESC_ADDR         0x2016
#define VMCS_EOI_EXIT_BITMAP0     0x201c /* ..3 at 0x201e, 0x2020, 0x2022 */
#define VMCS_TPR_THRESHOLD        0x401c
#define VMCS_PIN_CTLS             0x4000
#define VMCS_PROC_CTLS            0x4002
#define VMCS_EXCEPTION_BITMAP     0x4004
#define VMCS_CR3_TARGET_COUNT     0x400a
#define VMCS_EXIT_CTLS            0x400c
#define VMCS_EXIT_MSR_STORE_COUNT 0x400e
#define VMCS_EXIT_MSR_LOAD_COUNT  0x4010
#define VMCS_ENTRY_CTLS           0x4012
#define VMCS_ENTRY_MSR_LOAD_COUNT 0x4014
#define VMCS_ENTRY_INTR_INFO      0x4016
#define VMCS_ENTRY_EXC_ERROR      0x4018
#define VMCS_ENTRY_INSN_LEN       0x401a
#define VMCS_PROC_CTLS2           0x401e
#define VMCS_INSN_ERROR           0x4400
#define VMCS_EXIT_REASON          0x4402
#define VMCS_EXIT_INTR_INFO       0x4404
#define VMCS_EXIT_INTR_ERROR      0x4406
#define VMCS_IDT_VECTORING_INFO   0x4408
#define VMCS_IDT_VECTORING_ERROR  0x440a
#define VMCS_EXIT_INSN_LEN        0x440c
#define VMCS_GUEST_ES_LIMIT       0x4800 /* ES, CS, SS, DS, FS, GS, LDTR, TR: +2 each */
#define VMCS_GUEST_GDTR_LIMIT     0x4810
#define VMCS_GUEST_IDTR_LIMIT     0x4812
#define VMCS_GUEST_ES_AR          0x4814 /* ES, CS, SS, DS, FS, GS, LDTR, TR: +2 each */
#define VMCS_GUEST_SS_AR          0x4818
#define VMCS_GUEST_INTERRUPTIBILITY 0x4824
#define VMCS_GUEST_ACTIVITY       0x4826
#define VMCS_GUEST_SYSENTER_CS    0x482a
#define VMCS_PREEMPTION_TIMER     0x482e
#define VMCS_HOST_SYSENTER_CS     0x4c00
/* natural width */
#define VMCS_CR0_MASK             0x6000
#define VMCS_CR4_MASK             0x6002
#define VMCS_CR0_SHADOW           0x6004
#define VMCS_CR4_SHADOW           0x6006
#define VMCS_EXIT_QUALIFICATION   0x6400
#define VMCS_GUEST_LINEAR_ADDR    0x640a
#define VMCS_GUEST_CR0            0x6800
#define VMCS_GUEST_CR3            0x6802
#define VMCS_GUEST_CR4            0x6804
#define VMCS_GUEST_ES_BASE        0x6806 /* ES, CS, SS, DS, FS, GS, LDTR, TR: +2 each */
#define VMCS_GUEST_GDTR_BASE      0x6816
#define VMCS_GUEST_IDTR_BASE      0x6818
#define VMCS_GUEST_DR7            0x681a
#define VMCS_GUEST_RSP            0x681c
#define VMCS_GUEST_RIP            0x681e
#define VMCS_GUEST_RFLAGS         0x6820
#define VMCS_GUEST_PENDING_DBG    0x6822
#define VMCS_GUEST_SYSENTER_ESP   0x6824
#define VMCS_GUEST_SYSENTER_EIP   0x6826
#define VMCS_HOST_CR0             0x6c00
#define VMCS_HOST_CR3             0x6c02
#define VMCS_HOST_CR4             0x6c04
#define VMCS_HOST_FS_BASE         0x6c06
#define VMCS_HOST_GS_BASE         0x6c08
#define VMCS_HOST_TR_BASE         0x6c0a
#define VMCS_HOST_GDTR_BASE       0x6c0c
#define VMCS_HOST_IDTR_BASE       0x6c0e
#define VMCS_HOST_SYSENTER_ESP    0x6c10
#define VMCS_HOST_SYSENTER_EIP    0x6c12
#define VMCS_HOST_RSP             0x6c14
#define VMCS_HOST_RIP             0x6c16

/* Pin-based controls */
#define PIN_EXT_INTR_EXITING   (1u << 0)
#define PIN_NMI_EXITING        (1u << 3)
#define PIN_VIRTUAL_NMIS       (1u << 5)
#define PIN_PREEMPTION_TIMER   (1u << 6)
#define PIN_POSTED_INTERRUPTS  (1u << 7)
/* Primary processor-based controls */
#define PROC_INTR_WINDOW       (1u << 2)
#define PROC_HLT_EXITING       (1u << 7)
#define PROC_MWAIT_EXITING     (1u << 10)
#define PROC_RDPMC_EXITING     (1u << 11)
#define PROC_CR8_LOAD_EXITING  (1u << 19)
#define PROC_CR8_STORE_EXITING (1u << 20)
#define PROC_TPR_SHADOW        (1u << 21)
#define PROC_USE_IO_BITMAPS    (1u << 25)
#define PROC_USE_MSR_BITMAPS   (1u << 28)
#define PROC_MONITOR_EXITING   (1u << 29)
#define PROC_SECONDARY         (1u << 31)
/* Secondary processor-based controls */
#define PROC2_EPT              (1u << 1)
#define PROC2_RDTSCP           (1u << 3)
#define PROC2_X2APIC_MODE      (1u << 4)  /* virtualize x2APIC mode */
#define PROC2_VPID             (1u << 5)
#define PROC2_WBINVD_EXITING   (1u << 6)
#define PROC2_UNRESTRICTED     (1u << 7)
#define PROC2_VID              (1u << 9)  /* virtual-interrupt delivery */
#define PROC2_INVPCID          (1u << 12)
#define PROC2_XSAVES           (1u << 20)
/* VM-exit controls */
#define EXIT_SAVE_DEBUG        (1u << 2)
#define EXIT_HOST_64BIT        (1u << 9)
#define EXIT_ACK_INTR          (1u << 15)
#define EXIT_SAVE_PAT          (1u << 18)
#define EXIT_LOAD_PAT          (1u << 19)
#define EXIT_SAVE_EFER         (1u << 20)
#define EXIT_LOAD_EFER         (1u << 21)
/* VM-entry controls */
#define ENTRY_LOAD_DEBUG       (1u << 2)
#define ENTRY_IA32E_GUEST      (1u << 9)
#define ENTRY_LOAD_PAT         (1u << 14)
#define ENTRY_LOAD_EFER        (1u << 15)

/* Basic exit reasons (SDM Vol. 3D Appendix C) */
#define EXIT_REASON_EXCEPTION_NMI     0
#define EXIT_REASON_EXTERNAL_INTR     1
#define EXIT_REASON_TRIPLE_FAULT      2
#define EXIT_REASON_INTR_WINDOW       7
#define EXIT_REASON_CPUID             10
#define EXIT_REASON_GETSEC            11
#define EXIT_REASON_HLT               12
#define EXIT_REASON_INVD              13
#define EXIT_REASON_RDPMC             15
#define EXIT_REASON_VMCALL            18
#define EXIT_REASON_VMCLEAR           19 /* 19-27: VMCLEAR .. VMXON */
#define EXIT_REASON_VMXON             27
#define EXIT_REASON_CR_ACCESS         28
#define EXIT_REASON_IO                30
#define EXIT_REASON_RDMSR             31
#define EXIT_REASON_WRMSR             32
#define EXIT_REASON_INVALID_GUEST     33
#define EXIT_REASON_MSR_LOADING       34
#define EXIT_REASON_MWAIT             36
#define EXIT_REASON_MONITOR           39
#define EXIT_REASON_MACHINE_CHECK     41
#define EXIT_REASON_TPR_BELOW         43
#define EXIT_REASON_EPT_VIOLATION     48
#define EXIT_REASON_EPT_MISCONFIG     49
#define EXIT_REASON_INVEPT            50
#define EXIT_REASON_INVVPID           53
#define EXIT_REASON_WBINVD            54
#define EXIT_REASON_XSETBV            55
#define EXIT_REASON_VMFUNC            59
#define EXIT_REASON_ENCLS             60
#define EXIT_REASON_PREEMPTION_TIMER  52
#define EXIT_REASON_ENTRY_FAILED_BIT  (1u << 31)

#endif
