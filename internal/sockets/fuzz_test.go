package sockets

import "testing"

// FuzzParseConfigured: any configured network and address is read without
// a panic, and one accepted names a non-zero port and matches a socket bound
// to exactly that address.
func FuzzParseConfigured(f *testing.F) {
	for _, seed := range []string{"127.0.0.1:53", "[::]:853", ":443", "[fe80::1%eth0]:53", "localhost:53", "0.0.0.0:0", ":domain", "1.2.3.4", "[::1]:99999", ""} {
		f.Add(true, seed)
		f.Add(false, seed)
	}
	f.Fuzz(func(t *testing.T, tcp bool, addr string) {
		k, network := datagram, "udp"
		if tcp {
			k, network = stream, "tcp"
		}
		d, ok := parseConfigured(k, network, addr)
		if !ok {
			return
		}
		if d.addr.Port() == 0 || d.kind != k {
			t.Fatalf("%q: accepted as %v", addr, d)
		}
		if !(desc{kind: k, addr: d.addr}).matches(d) {
			t.Fatalf("%q: a socket bound to %s does not match it", addr, d.addr)
		}
	})
}
