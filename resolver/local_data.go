package resolver

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"
)

// LocalData is the operator's own records (local_records, local_zone_files),
// answered by the local step without any upstream. Immutable once built;
// LocalRecords holds the current one.
//
// An SOA record makes its owner a zone apex: every name at or below it is
// answered from the data alone, a name without records NXDOMAIN (NODATA for
// an empty non-terminal) with that SOA in authority. Records outside every
// zone answer only their own owner names (and names below a wildcard
// owner); other names are resolved as usual.
type LocalData struct {
	names map[string][]dns.RR // by lower-case owner, "*.x" for wildcards
	zones map[string]*dns.SOA // by apex
	ents  map[string]bool     // empty non-terminals inside zones
}

// LocalRecords holds a scope's current LocalData (the global one or a
// profile's), swapped whole on reload.
type LocalRecords struct {
	cur atomic.Pointer[LocalData]
}

// Store makes d the current data; nil: none.
func (l *LocalRecords) Store(d *LocalData) { l.cur.Store(d) }

// Load returns the current data, nil if none (or l is nil).
func (l *LocalRecords) Load() *LocalData {
	if l == nil {
		return nil
	}
	return l.cur.Load()
}

// maxCNAMEChain bounds the local CNAMEs followed for one answer.
const maxCNAMEChain = 8

// NewLocalData checks rrs (see ParseLocalRecord for the types) and indexes
// them. With autoPTR, each A and AAAA record that is not a wildcard also
// answers the PTR query for its address, unless a PTR record owns that
// reverse name already.
func NewLocalData(rrs []dns.RR, autoPTR bool) (*LocalData, error) {
	d := &LocalData{names: map[string][]dns.RR{}, zones: map[string]*dns.SOA{}, ents: map[string]bool{}}
	for _, rr := range rrs {
		if err := checkLocalRR(rr); err != nil {
			return nil, err
		}
		owner := lowerName(rr.Header().Name)
		if soa, ok := rr.(*dns.SOA); ok {
			if _, dup := d.zones[owner]; dup {
				return nil, fmt.Errorf("%s: two SOA records: a zone has one", owner)
			}
			d.zones[owner] = soa
		}
		d.names[owner] = append(d.names[owner], rr)
	}
	if autoPTR {
		d.addPTRs()
	}
	for owner, set := range d.names {
		if hasType(set, dns.TypeCNAME) && len(set) > 1 {
			return nil, fmt.Errorf("%s: a CNAME record and other records: a CNAME owner has no other data (RFC 1034 §3.6.2)", owner)
		}
		// Names between a record and its zone's apex are empty
		// non-terminals; the apex's own records have none (and the names
		// above the apex are not the zone's).
		if apex := d.zoneOf(owner); apex != "" && owner != apex {
			for n := parentName(owner); n != apex && n != ""; n = parentName(n) {
				if _, ok := d.names[n]; !ok {
					d.ents[n] = true
				}
			}
		}
	}
	return d, nil
}

// addPTRs adds the automatic PTR records of NewLocalData's autoPTR.
func (d *LocalData) addPTRs() {
	explicit := map[string]bool{}
	for owner, set := range d.names {
		explicit[owner] = hasType(set, dns.TypePTR)
	}
	for owner, set := range d.names {
		if strings.HasPrefix(owner, "*.") {
			continue
		}
		for _, rr := range set {
			var ip net.IP
			switch a := rr.(type) {
			case *dns.A:
				ip = a.A
			case *dns.AAAA:
				ip = a.AAAA
			default:
				continue
			}
			rev, err := dns.ReverseAddr(ip.String())
			if err != nil || explicit[rev] {
				continue
			}
			d.names[rev] = append(d.names[rev], &dns.PTR{
				Hdr: dns.RR_Header{Name: rev, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: rr.Header().Ttl},
				Ptr: rr.Header().Name,
			})
		}
	}
}

// localMatch is what the data says about one name.
type localMatch struct {
	rrs   []dns.RR // the records of the name's node (its own or a wildcard's); nil for a negative answer
	apex  string   // the name's zone, "" outside every zone
	owner string   // the matched owner ("*.x" for a wildcard); a negative answer's name
	found bool     // the data answers the name (positively, NODATA or NXDOMAIN)
	nx    bool     // the name does not exist in its zone (NXDOMAIN)
}

// lookup finds name (lower-case, fully qualified) in d.
func (d *LocalData) lookup(name string) localMatch {
	if d == nil {
		return localMatch{}
	}
	apex := d.zoneOf(name)
	if rrs, ok := d.names[name]; ok {
		return localMatch{rrs: rrs, apex: apex, owner: name, found: true}
	}
	if d.ents[name] {
		return localMatch{apex: apex, owner: name, found: true}
	}
	// The source of synthesis is the wildcard child of the closest
	// encloser, the nearest ancestor that exists (RFC 4592 §3.3.1).
	for a := parentName(name); a != ""; a = parentName(a) {
		if rrs, ok := d.names["*."+a]; ok {
			return localMatch{rrs: rrs, apex: apex, owner: "*." + a, found: true}
		}
		if _, ok := d.names[a]; ok || d.ents[a] || a == apex {
			break
		}
	}
	if apex != "" {
		return localMatch{apex: apex, owner: name, found: true, nx: true}
	}
	return localMatch{}
}

// zoneOf returns the apex of the nearest zone that holds name, or "".
func (d *LocalData) zoneOf(name string) string {
	if len(d.zones) == 0 {
		return ""
	}
	for n := name; n != ""; n = parentName(n) {
		if _, ok := d.zones[n]; ok {
			return n
		}
	}
	return ""
}

// soa returns the SOA for a negative answer about m: its zone's, with the
// negative TTL (RFC 2308 §3) as its own TTL, or one made up for the owner
// outside every zone.
func (d *LocalData) soa(m localMatch) *dns.SOA {
	if z := d.zones[m.apex]; z != nil {
		c := dns.Copy(z).(*dns.SOA)
		c.Hdr.Ttl = min(c.Hdr.Ttl, c.Minttl)
		return c
	}
	return synthSOA(strings.TrimPrefix(m.owner, "*."))
}

// parentName returns the name one label up ("" above the root).
func parentName(name string) string {
	if name == "." || name == "" {
		return ""
	}
	i := strings.IndexByte(name, '.')
	if i == len(name)-1 {
		return "."
	}
	return name[i+1:]
}

func hasType(rrs []dns.RR, t uint16) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			return true
		}
	}
	return false
}
