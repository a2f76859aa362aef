# Sourced by the dnsperf scripts: the setup they share.
# $work is the run's scratch folder; pids collects what to stop on exit.
. bench/common.sh
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# unbound_conf PORT [EXTRA]: an unbound on 127.0.0.1:PORT with a static
# bench.example. zone; EXTRA lines (local-data, options) go in its server
# clause. Written to $work/unbound.conf.
unbound_conf() {
  {
    printf 'server:\n  interface: 127.0.0.1@%s\n  do-daemonize: no\n  chroot: ""\n  username: ""\n' "$1"
    printf '  directory: "%s"\n  pidfile: ""\n  use-syslog: no\n  verbosity: 0\n' "$work"
    printf '  num-threads: %s\n  so-reuseport: yes\n  access-control: 127.0.0.0/8 allow\n' "$(nproc)"
    printf '  local-zone: "bench.example." static\n'
    printf '%s' "${2:-}"
    printf 'remote-control:\n  control-enable: no\n'
  } >"$work/unbound.conf"
}

# bench_names PORT N: an unbound on PORT (unbound_conf) answering
# n1..nN.bench.example A 127.0.0.1 from local-data, and $work/queries
# asking for those names (dnsperf's format).
bench_names() {
  unbound_conf "$1" "$(for i in $(seq 1 "$2"); do printf '  local-data: "n%d.bench.example. 3600 IN A 127.0.0.1"\n' "$i"; done)
"
  for i in $(seq 1 "$2"); do echo "n$i.bench.example A"; done >"$work/queries"
}

# dnsward_tls_conf LISTEN UPSTREAM_PORT: $work/dnsward.yaml with the listen
# map LISTEN, unbound on UPSTREAM_PORT as upstream, the bench_pki
# certificate and the cache on.
dnsward_tls_conf() {
  cat >"$work/dnsward.yaml" <<YAML
listen: $1
upstreams: [udp://127.0.0.1:$2]
server_name: localhost
data_dir: "$work/dnsward-data"
tls: {mode: files, cert_file: "$work/chain.pem", key_file: "$work/key.pem"}
cache: {size: 100000}
log: {level: warn}
YAML
}

# dnsward_bin: $DNSWARD_BIN when set (to compare two builds with one
# script), else ./cmd/dnsward built; copied to $work/dnsward.
dnsward_bin() {
  if [[ -n ${DNSWARD_BIN:-} ]]; then cp "$DNSWARD_BIN" "$work/dnsward"; else go build -o "$work/dnsward" ./cmd/dnsward; fi
}
