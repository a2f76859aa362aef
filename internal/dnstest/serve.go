package dnstest

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// Serve runs h over UDP and TCP on one port of 127.0.0.1 until t ends and
// returns the address.
func Serve(t testing.TB, h dns.Handler) string {
	t.Helper()
	for range 20 { // the UDP port's TCP twin may be taken: try another
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			continue
		}
		ServeOn(t, h, pc, ln)
		return pc.LocalAddr().String()
	}
	t.Fatal("dnstest: no UDP and TCP port pair free on 127.0.0.1")
	return ""
}

// ServeOn runs h with miekg/dns on pc and ln (either may be nil) and
// returns once both serve; they are shut down when t ends.
func ServeOn(t testing.TB, h dns.Handler, pc net.PacketConn, ln net.Listener) {
	t.Helper()
	var srvs []*dns.Server
	if pc != nil {
		srvs = append(srvs, &dns.Server{PacketConn: pc, Handler: h})
	}
	if ln != nil {
		srvs = append(srvs, &dns.Server{Listener: ln, Handler: h})
	}
	for _, srv := range srvs {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
}
