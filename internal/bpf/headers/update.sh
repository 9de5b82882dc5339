#!/bin/sh
# Regenerates headers/<arch>/vmlinux.h from the running kernel's BTF.
# Needs bpftool (Debian package bpftool). Run on a host of the target arch.
set -eu
cd "$(dirname "$0")"
case "$(uname -m)" in
x86_64) arch=x86 ;;
aarch64) arch=arm64 ;;
*) echo "unsupported arch $(uname -m)" >&2; exit 1 ;;
esac
mkdir -p "$arch"
bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$arch/vmlinux.h"
