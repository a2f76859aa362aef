package resolver

import (
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"
)

// Profile is one filtering profile (unfiltered, protective, noads, child, …).
// Profiles are immutable once registered; filtering state that changes on
// reload lives behind Policy.
type Profile struct {
	Name   string
	Paths  []string     // DoH paths that select it ("/ads")
	Hosts  []string     // TLS SNI / HTTP Host names that select it
	Addrs  []netip.Addr // local addresses that select it on any transport
	Policy Policy       // nil for an unfiltered profile
	// BlockedTTL is the TTL, in seconds, of the records of blocked answers
	// and of the SOA that lets caches keep a blocked NXDOMAIN or NODATA
	// (RFC 2308); 0: DefaultBlockedTTL.
	BlockedTTL uint32
	// Forward routes the names of some zones to upstream groups of their
	// own (the global forward zones and the profile's); nil: every name
	// goes to Config.Upstream.
	Forward *ForwardZones
	// Local holds the profile's own records, answered before the global
	// ones (LocalConfig.Records); nil: none.
	Local *LocalRecords

	replayID atomic.Uint64 // names the profile in replay keys; see id
}

// DefaultBlockedTTL is a profile's BlockedTTL when none is set: five
// minutes, so that an unblocked name reaches clients soon while caches
// downstream still absorb the repeats of a blocked tracker.
const DefaultBlockedTTL = 300

// blockedTTL returns p's BlockedTTL or the default.
func (p *Profile) blockedTTL() uint32 {
	if p.BlockedTTL == 0 {
		return DefaultBlockedTTL
	}
	return p.BlockedTTL
}

// profileIDs numbers profiles for replay keys.
var profileIDs atomic.Uint64

// id returns a number that names p, and no other profile, for the life of
// the process (a pointer could be reused once p is gone).
func (p *Profile) id() uint64 {
	if v := p.replayID.Load(); v != 0 {
		return v
	}
	p.replayID.CompareAndSwap(0, profileIDs.Add(1))
	return p.replayID.Load()
}

// Policy decides, for a profile, whether a name is blocked or rewritten. It is
// implemented by the filter package; the resolver only calls it.
type Policy interface {
	// Check returns the verdict for a query name (lower-case, fully qualified).
	Check(name string, qtype uint16) Verdict
}

// Verdict is a Policy's answer for one name.
type Verdict struct {
	Action   Action
	Category string // the list category that matched ("malware", "ads"); "" for allow/none
	Target   string // CNAME target for ActionRewrite (safe search)
	Answer   BlockedAnswer
	EDE      uint16 // Extended DNS Error code to attach (15 Blocked, 17 Filtered)
	Detail   string // why, after the category in the EDE text ("cert-api event <uuid>"); may be ""
}

// Action is what a Verdict asks the resolver to do.
type Action uint8

// The policy actions.
const (
	ActionNone    Action = iota // no list matched: resolve normally
	ActionAllow                 // an allow entry matched: resolve, skip CNAME checks
	ActionBlock                 // answer with Verdict.Answer
	ActionRewrite               // answer a CNAME to Verdict.Target, resolved upstream
)

// BlockedAnswerKind says how a blocked name is answered.
type BlockedAnswerKind uint8

// The kinds of blocked answers.
const (
	BlockNXDomain BlockedAnswerKind = iota
	BlockNullIP
	BlockNoData
	BlockRefused
	BlockCustomIP
	BlockRecords // answer with BlockedAnswer.Records (RPZ local data)
)

// BlockedAnswer is how a profile answers a blocked name.
type BlockedAnswer struct {
	Kind    BlockedAnswerKind
	Addrs   []netip.Addr // for BlockCustomIP
	Records []dns.RR     // for BlockRecords; owners may be "*.name", the answer takes the query name
}

// Ingress is what a transport knows about where a query arrived.
type Ingress struct {
	ServerName string     // TLS SNI or HTTP Host, "" if none
	Local      netip.Addr // the local address the query arrived on
	// Profile is the profile the transport chose itself (a DoH profile
	// path); nil: by server name, then local address (Identify only).
	Profile *Profile
	// ClientID is a client ID the transport read itself (the DoH path),
	// not yet validated; "": the server name's, if any (Identify only).
	ClientID string
}

// Profiles maps an ingress to a profile. It is built once from config and
// shared read-only by every transport; only its client-ID table
// (SetClients) is swapped on reload.
type Profiles struct {
	def    *Profile
	byName map[string]*Profile
	byPath map[string]*Profile
	byHost map[string]*Profile
	byAddr map[netip.Addr]*Profile

	clients atomic.Pointer[clientTable] // nil until SetClients: every ID accepted
}

// NewProfiles indexes profiles; defaultName must be one of them. Colliding
// paths, hosts or addresses are errors naming both profiles.
func NewProfiles(defaultName string, profiles []*Profile) (*Profiles, error) {
	r := &Profiles{
		byName: map[string]*Profile{},
		byPath: map[string]*Profile{},
		byHost: map[string]*Profile{},
		byAddr: map[netip.Addr]*Profile{},
	}
	for _, p := range profiles {
		if p.Name == "" {
			return nil, fmt.Errorf("profiles: a profile has no name")
		}
		if _, dup := r.byName[p.Name]; dup {
			return nil, fmt.Errorf("profiles: profile %q defined twice", p.Name)
		}
		r.byName[p.Name] = p
		for _, path := range p.Paths {
			path = normalizePath(path)
			if other, dup := r.byPath[path]; dup {
				return nil, fmt.Errorf("profiles: path %q is used by both %q and %q", path, other.Name, p.Name)
			}
			r.byPath[path] = p
		}
		for _, h := range p.Hosts {
			h = normalizeHost(h)
			if other, dup := r.byHost[h]; dup {
				return nil, fmt.Errorf("profiles: host %q is used by both %q and %q", h, other.Name, p.Name)
			}
			r.byHost[h] = p
		}
		for _, a := range p.Addrs {
			a = a.Unmap()
			if other, dup := r.byAddr[a]; dup {
				return nil, fmt.Errorf("profiles: address %s is used by both %q and %q", a, other.Name, p.Name)
			}
			r.byAddr[a] = p
		}
	}
	def, ok := r.byName[defaultName]
	if !ok {
		return nil, fmt.Errorf("profiles: default profile %q is not defined", defaultName)
	}
	r.def = def
	return r, nil
}

// Default returns the default profile.
func (r *Profiles) Default() *Profile { return r.def }

// ByName returns the named profile.
func (r *Profiles) ByName(name string) (*Profile, bool) {
	p, ok := r.byName[name]
	return p, ok
}

// ByPath returns the profile a DoH path selects. "/ads" and "/ads/dns-query"
// both select the profile with path "/ads".
func (r *Profiles) ByPath(path string) (*Profile, bool) {
	path = normalizePath(path)
	if p, ok := r.byPath[path]; ok {
		return p, true
	}
	if trimmed, ok := strings.CutSuffix(path, "/dns-query"); ok && trimmed != "" {
		p, ok := r.byPath[trimmed]
		return p, ok
	}
	return nil, false
}

// ByHost returns the profile a TLS server name or HTTP Host selects.
func (r *Profiles) ByHost(host string) (*Profile, bool) {
	if host == "" {
		return nil, false
	}
	p, ok := r.byHost[normalizeHost(host)]
	return p, ok
}

// Select picks a profile for a connection: by server name, then by local
// address, then the default.
func (r *Profiles) Select(in Ingress) *Profile {
	if p, ok := r.ByHost(in.ServerName); ok {
		return p
	}
	if in.Local.IsValid() {
		if p, ok := r.byAddr[in.Local.Unmap()]; ok {
			return p
		}
	}
	return r.def
}

func normalizePath(p string) string {
	if p != "/" {
		p = strings.TrimSuffix(p, "/")
	}
	return p
}

func normalizeHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(h), ".")
}
