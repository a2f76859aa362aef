// Package xdp is dnsward's XDP filter for plain DNS over UDP: per-client
// token buckets, allow and deny lists, TC=1 slip and malformed-query drops in
// the kernel, before the network stack, with the same semantics as package
// ratelimit. The program is dnsward.c; bpf_bpfel.* and bpf_bpfeb.* are
// generated from it (regen-check.sh checks they are current).
package xdp

//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang-14 -cflags "-O2 -g -Wall -Werror -mcpu=v3 -I/usr/include/x86_64-linux-gnu" -type config -type bucket bpf dnsward.c
