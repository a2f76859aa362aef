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
// port) answering from its records. Names it has no records for get NXDOMAIN
// with an SOA: the zone's own when it has one, else one for "example." with
// a 60 s minimum. UDP answers are truncated to the query's EDNS size (512
// bytes without EDNS).
type Authority struct {
	Addr    string // host:port
	Queries atomic.Int64

	mu      sync.Mutex
	records map[string][]dns.RR // key: lower-case name + "/" + type
	rcodes  map[string]int      // key: lower-case name
	soa     dns.RR
	delay   func(name string) time.Duration
}

// StartAuthority starts a server answering the records in zone (zone-file
// lines such as "www.example. 300 IN A 127.0.0.1"). delay, if non-nil, says how
// long to wait before answering a name. The server stops when t ends.
func StartAuthority(t testing.TB, zone []string, delay func(name string) time.Duration) *Authority {
	t.Helper()
	a := &Authority{records: map[string][]dns.RR{}, rcodes: map[string]int{}, delay: delay, soa: defaultSOA}
	for _, line := range zone {
		a.Add(t, line)
	}
	a.Addr = Serve(t, a)
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
	if rr.Header().Rrtype == dns.TypeSOA {
		a.soa = rr
	}
	a.mu.Unlock()
}

// SetRcode makes the server answer every query for name with rcode and no
// records (e.g. SERVFAIL for a broken delegation).
func (a *Authority) SetRcode(name string, rcode int) {
	a.mu.Lock()
	a.rcodes[strings.ToLower(dns.Fqdn(name))] = rcode
	a.mu.Unlock()
}

// defaultSOA is the SOA of negative answers when the zone has none.
var defaultSOA = &dns.SOA{Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
	Ns: "ns.example.", Mbox: "hostmaster.example.", Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 60}

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
	rcode, failed := a.rcodes[name]
	soa := a.soa
	if failed {
		m.Rcode = rcode
	} else {
		m.Answer = append(m.Answer, a.records[name+"/"+dns.TypeToString[qq.Qtype]]...)
	}
	if len(m.Answer) == 0 && !failed {
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
	if len(m.Answer) == 0 && !failed {
		if !known {
			m.Rcode = dns.RcodeNameError
		}
		m.Ns = []dns.RR{soa}
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
