# Sourced by bench scripts: small helpers they share.

# ticks PID: user+system CPU ticks the process has used (all threads).
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# median N...: the median of the numbers given, as separate arguments or
# space-separated in one.
median() { tr ' ' '\n' <<<"$*" | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# doh_path NAME: the RFC 8484 GET path of an A query for NAME (ID 0, RD set).
doh_path() {
  local out='\0000\0000\0001\0000\0000\0001\0000\0000\0000\0000\0000\0000' l labels
  IFS=. read -ra labels <<<"$1"
  for l in "${labels[@]}"; do out+="$(printf '\\0%03o' "${#l}")$l"; done
  printf '/dns-query?dns=%s\n' "$(printf '%b' "$out"'\0000\0000\0001\0000\0001' | base64 -w0 | tr '+/' '-_' | tr -d '=')"
}

# bench_pki DIR: a throw-away CA (DIR/ca.pem) and a localhost/127.0.0.1 leaf
# it signed (DIR/chain.pem, DIR/key.pem).
bench_pki() {
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=dnsward bench CA" -keyout "$1/ca.key" -out "$1/ca.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -new "${ec[@]}" -subj /CN=localhost -keyout "$1/key.pem" -out "$1/leaf.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$1/leaf.ext"
  openssl x509 -req -in "$1/leaf.csr" -CA "$1/ca.pem" -CAkey "$1/ca.key" -CAcreateserial -days 2 \
    -extfile "$1/leaf.ext" -out "$1/leaf.pem" 2>/dev/null
  cat "$1/leaf.pem" "$1/ca.pem" >"$1/chain.pem"
}
