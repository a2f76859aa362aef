package resolver

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// DDREndpoint describes one encrypted endpoint of this gateway, advertised in
// SVCB answers for _dns.resolver.arpa (RFC 9461, RFC 9462).
type DDREndpoint struct {
	Priority uint16       // SVCB priority, 1 = most preferred
	Target   string       // the gateway's TLS name, e.g. "dns.example.org"
	ALPN     []string     // "h2", "h3", "dot", "doq"
	Port     uint16       // 0: the ALPN's default port
	DoHPath  string       // "/dns-query{?dns}" for DoH endpoints, "" otherwise
	Hints    []netip.Addr // ipv4hint / ipv6hint
}

// LocalConfig configures the names answered without any upstream.
type LocalConfig struct {
	// DDR lists, per profile name, the encrypted endpoints that keep a
	// client on its profile; SVCB records for _dns.resolver.arpa are built
	// from them. A profile with none gets NODATA: discovery must never move
	// a client to an endpoint that would pick another profile.
	DDR map[string][]DDREndpoint
	// Records are the operator's records for every profile; a profile's
	// own (Profile.Local) are asked first. nil: none.
	Records *LocalRecords
	// CheckZone is the zone of the setup page's "am I protected?" names
	// ("check.dns.example."); "" for none. Every name under it is answered
	// here with NXDOMAIN, never forwarded, and told to Check first.
	CheckZone string
	Check     CheckRecorder // required with CheckZone
}

// CheckRecorder is told of each query under LocalConfig.CheckZone: the
// first label below the zone (the page's random token) and the request,
// whose profile and transport say how the visitor's DNS reached the
// gateway. It must not keep the client's address.
type CheckRecorder interface {
	Record(token string, req *Request)
}

// localTTL is the TTL of locally synthesised answers.
const localTTL = 300

// canaryDomain is the name Firefox asks the network's resolver to learn
// whether the network filters (answering NXDOMAIN keeps Firefox on it).
const canaryDomain = "use-application-dns.net."

// local answers names that must never be forwarded: resolver.arpa (DDR, RFC
// 9462 — forwarding it would let the upstream move clients off the filter),
// localhost and invalid (RFC 6761), and Firefox's canary for filtered
// profiles; then the operator's own records (local_data.go), the profile's
// before the global ones.
type local struct {
	next      Handler
	ddr       map[string][]dns.RR // by profile name
	records   *LocalRecords
	checkZone string // lower-case, fully qualified; "" for none
	check     CheckRecorder
}

func newLocal(cfg LocalConfig, next Handler) (*local, error) {
	l := &local{next: next, ddr: map[string][]dns.RR{}, records: cfg.Records, check: cfg.Check}
	if cfg.CheckZone != "" {
		if cfg.Check == nil {
			return nil, fmt.Errorf("resolver: check zone %q has no CheckRecorder", cfg.CheckZone)
		}
		l.checkZone = lowerName(dns.Fqdn(cfg.CheckZone))
	}
	for profile, eps := range cfg.DDR {
		for i, ep := range eps {
			rr, err := ep.svcb()
			if err != nil {
				return nil, fmt.Errorf("resolver: ddr endpoint %d of profile %q: %w", i, profile, err)
			}
			l.ddr[profile] = append(l.ddr[profile], rr)
		}
	}
	return l, nil
}

func (l *local) ServeDNS(ctx context.Context, req *Request) (*dns.Msg, error) {
	q := req.Msg.Question[0]
	name := lowerName(q.Name)
	switch {
	case inZone(name, "resolver.arpa."):
		return l.resolverArpa(req.Msg, name, l.ddr[req.Profile.Name]), nil
	case inZone(name, "localhost."):
		return localhostAnswer(req.Msg), nil
	case inZone(name, "invalid."):
		return negative(req.Msg, dns.RcodeNameError, "invalid."), nil
	case name == canaryDomain && req.Profile.Policy != nil:
		return negative(req.Msg, dns.RcodeNameError, canaryDomain), nil
	case l.checkZone != "" && inZone(name, l.checkZone):
		return l.answerCheck(req, name), nil
	}
	if d, m := l.match(req, name); m.found {
		return l.answer(ctx, req, d, m)
	}
	return l.next.ServeDNS(ctx, req)
}

func (l *local) resolverArpa(q *dns.Msg, name string, ddr []dns.RR) *dns.Msg {
	if name != "_dns.resolver.arpa." {
		return negative(q, dns.RcodeNameError, "resolver.arpa.")
	}
	if q.Question[0].Qtype != dns.TypeSVCB || len(ddr) == 0 {
		return negative(q, dns.RcodeSuccess, "resolver.arpa.")
	}
	m := NewReply(q, dns.RcodeSuccess)
	m.Authoritative = true
	for _, rr := range ddr {
		m.Answer = append(m.Answer, dns.Copy(rr))
	}
	return m
}

// answerCheck records a query under the check zone and answers NXDOMAIN:
// the name only has to be resolved, so the visitor's browser connects
// nowhere. The zone's apex exists (NODATA): an NXDOMAIN there would let a
// cache in between deny every name below it unasked (RFC 8020).
func (l *local) answerCheck(req *Request, name string) *dns.Msg {
	rest, below := strings.CutSuffix(name, "."+l.checkZone)
	if !below {
		return negative(req.Msg, dns.RcodeSuccess, l.checkZone)
	}
	l.check.Record(rest[strings.LastIndexByte(rest, '.')+1:], req)
	return negative(req.Msg, dns.RcodeNameError, l.checkZone)
}

func localhostAnswer(q *dns.Msg) *dns.Msg {
	qq := q.Question[0]
	hdr := dns.RR_Header{Name: qq.Name, Class: dns.ClassINET, Ttl: localTTL}
	var rr dns.RR
	switch qq.Qtype {
	case dns.TypeA:
		hdr.Rrtype = dns.TypeA
		rr = &dns.A{Hdr: hdr, A: netip.MustParseAddr("127.0.0.1").AsSlice()}
	case dns.TypeAAAA:
		hdr.Rrtype = dns.TypeAAAA
		rr = &dns.AAAA{Hdr: hdr, AAAA: netip.IPv6Loopback().AsSlice()}
	default:
		return negative(q, dns.RcodeSuccess, "localhost.")
	}
	m := NewReply(q, dns.RcodeSuccess)
	m.Authoritative = true
	m.Answer = []dns.RR{rr}
	return m
}

// negative answers NXDOMAIN or NODATA with an SOA for zone, so that clients
// cache it per RFC 2308.
func negative(q *dns.Msg, rcode int, zone string) *dns.Msg {
	m := NewReply(q, rcode)
	m.Authoritative = true
	m.Ns = []dns.RR{synthSOA(zone)}
	return m
}

// synthSOA is the SOA of a zone dnsward answers without one of its own.
func synthSOA(zone string) *dns.SOA {
	return &dns.SOA{
		Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: localTTL},
		Ns:  "localhost.", Mbox: "nobody.invalid.", Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: localTTL,
	}
}

// inZone reports whether name equals zone or lies below it.
func inZone(name, zone string) bool {
	return name == zone || strings.HasSuffix(name, "."+zone)
}

func (ep DDREndpoint) svcb() (*dns.SVCB, error) {
	if ep.Target == "" || len(ep.ALPN) == 0 {
		return nil, fmt.Errorf("target and alpn are required")
	}
	rr := &dns.SVCB{
		Hdr:      dns.RR_Header{Name: "_dns.resolver.arpa.", Rrtype: dns.TypeSVCB, Class: dns.ClassINET, Ttl: localTTL},
		Priority: max(ep.Priority, 1),
		Target:   dns.Fqdn(ep.Target),
	}
	rr.Value = append(rr.Value, &dns.SVCBAlpn{Alpn: ep.ALPN})
	if ep.Port != 0 {
		rr.Value = append(rr.Value, &dns.SVCBPort{Port: ep.Port})
	}
	var v4, v6 []netip.Addr
	for _, a := range ep.Hints {
		if a.Unmap().Is4() {
			v4 = append(v4, a.Unmap())
		} else {
			v6 = append(v6, a)
		}
	}
	if len(v4) > 0 {
		rr.Value = append(rr.Value, &dns.SVCBIPv4Hint{Hint: asIPs(v4)})
	}
	if len(v6) > 0 {
		rr.Value = append(rr.Value, &dns.SVCBIPv6Hint{Hint: asIPs(v6)})
	}
	if ep.DoHPath != "" { // keys in increasing order (RFC 9460 §2.2): dohpath is 7
		rr.Value = append(rr.Value, &dns.SVCBDoHPath{Template: ep.DoHPath})
	}
	return rr, nil
}

func asIPs(addrs []netip.Addr) []net.IP {
	ips := make([]net.IP, len(addrs))
	for i, a := range addrs {
		ips[i] = a.AsSlice()
	}
	return ips
}
