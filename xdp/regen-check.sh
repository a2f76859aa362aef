#!/bin/sh
# regen-check.sh: regenerate the bpf2go output from dnsward.c and fail if it
# differs from what is committed. Installs nothing; needs the Debian packages
# clang-14, llvm-14 (llvm-strip-14) and libbpf-dev.
set -eu
cd "$(dirname "$0")"
generated="bpf_bpfel.go bpf_bpfel.o bpf_bpfeb.go bpf_bpfeb.o"
go generate .
# shellcheck disable=SC2086 # word splitting of $generated is intended
if ! git ls-files --error-unmatch $generated >/dev/null || ! git diff --quiet HEAD -- $generated; then
	echo "regen-check: xdp/bpf_bpf*.{go,o} are not what dnsward.c generates; run 'go generate ./xdp' and commit" >&2
	exit 1
fi
echo "regen-check: generated files are current"
