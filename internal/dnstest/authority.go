// Package dnstest runs real DNS servers on loopback for tests: a small
// authoritative server built on miekg/dns that answers from a table.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Authority is an authoritative DNS server on 127.0.0.1 (UDP and TCP, same
// port) answering from Records. Names it has no records for get NXDOMAIN with
// an SOA.
type Authority struct {
	Addr    string // host:port
	Queries atomic.Int64

	mu      sync.Mutex
	records map[string][]dns.RR // key: lower-case name + "/" + type
	delay   func(name string) time.Duration
	udp     *dns.Server
	tcp     *dns.Server
}

// StartAuthority starts a server answering the records in zone (zone-file
// lines such as "www.example. 300 IN A 127.0.0.1"). delay, if non-nil, says how
// long to wait before answering a name. The server stops when t ends.
func StartAuthority(t testing.TB, zone []string, delay func(name string) time.Duration) *Authority {
	t.Helper()
	a := &Authority{records: map[string][]dns.RR{}, delay: delay}
	for _, line := range zone {
		a.Add(t, line)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	a.Addr = pc.LocalAddr().String()
	a.udp = &dns.Server{PacketConn: pc, Handler: a}
	a.tcp = &dns.Server{Listener: l, Handler: a}
	started := make(chan struct{}, 2)
	a.udp.NotifyStartedFunc = func() { started <- struct{}{} }
	a.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go a.udp.ActivateAndServe()
	go a.tcp.ActivateAndServe()
	<-started
	<-started
	t.Cleanup(func() { a.udp.Shutdown(); a.tcp.Shutdown() })
	return a
}

// Add adds one record given as a zone-file line.
func (a *Authority) Add(t testing.TB, line string) {
	t.Helper()
	rr, err := dns.NewRR(line)
	if err != nil {
		t.Fatalf("dnstest: bad record %q: %v", line, err)
	}
	k := strings.ToLower(rr.Header().Name) + "/" + dns.TypeToString[rr.Header().Rrtype]
	a.mu.Lock()
	a.records[k] = append(a.records[k], rr)
	a.mu.Unlock()
}

// ServeDNS implements dns.Handler.
func (a *Authority) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	a.Queries.Add(1)
	qq := q.Question[0]
	if a.delay != nil {
		time.Sleep(a.delay(qq.Name))
	}
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	name := strings.ToLower(qq.Name)
	a.mu.Lock()
	m.Answer = append(m.Answer, a.records[name+"/"+dns.TypeToString[qq.Qtype]]...)
	if len(m.Answer) == 0 {
		m.Answer = append(m.Answer, a.records[name+"/CNAME"]...)
	}
	known := false
	for k := range a.records {
		if strings.HasPrefix(k, name+"/") {
			known = true
			break
		}
	}
	a.mu.Unlock()
	if len(m.Answer) == 0 {
		if !known {
			m.Rcode = dns.RcodeNameError
		}
		m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
			Ns: "ns.example.", Mbox: "hostmaster.example.", Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 60}}
	}
	if opt := q.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), opt.Do())
	}
	if _, isUDP := w.RemoteAddr().(*net.UDPAddr); isUDP {
		size := dns.MinMsgSize
		if opt := q.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}
