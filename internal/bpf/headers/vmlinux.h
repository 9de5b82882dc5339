/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* vmlinux.h dispatches to the per-architecture BTF dump. bpf2go defines
 * __TARGET_ARCH_<arch> for each -target. Only x86 is generated (from
 * /sys/kernel/btf/vmlinux on the build host): see update.sh. */
#ifndef SLO_VMLINUX_DISPATCH_H
#define SLO_VMLINUX_DISPATCH_H
#if defined(__TARGET_ARCH_x86)
#include "x86/vmlinux.h"
#elif defined(__TARGET_ARCH_arm64)
#error "arm64 vmlinux.h has not been generated: run headers/update.sh on an arm64 host and add -target arm64 in gen.go"
#else
#error "unsupported BPF target architecture: only amd64 (x86) is generated"
#endif
#endif
