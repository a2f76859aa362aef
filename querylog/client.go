package querylog

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/dnsward/dnsward/pseudonym"
)

// Mode is how a client's address appears in every output: the query log,
// and the gateway's other reports (/debug/limits, xdp stats).
type Mode string

// The client modes (query_log.client).
const (
	Pseudonym Mode = "pseudonym" // the day's pseudonym, as an address in 100::/64 (default)
	Truncate  Mode = "truncate"  // the address's /24 (IPv4) or /56 (IPv6) prefix
	None      Mode = "none"      // nothing
	Raw       Mode = "raw"       // the address itself (explicit opt-in)
)

// PseudonymPrefix is where pseudonyms are written as addresses: id N is
// 100::N, in the IPv6 discard-only prefix 100::/64 (RFC 6666), which no
// client can have.
var PseudonymPrefix = netip.MustParsePrefix("100::/64")

// Truncation lengths of the truncate mode.
const (
	TruncateV4 = 24
	TruncateV6 = 56
)

// ParseMode checks s, a query_log.client value ("" is the default).
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "":
		return Pseudonym, nil
	case Pseudonym, Truncate, None, Raw:
		return m, nil
	}
	return "", fmt.Errorf("must be pseudonym, truncate, none or raw, got %q", s)
}

// Masker writes client addresses the way its Mode says.
type Masker struct {
	mode Mode
	ids  *pseudonym.Pseudonymizer
}

// NewMasker returns a Masker for mode; ids makes the pseudonyms (only
// needed for Pseudonym).
func NewMasker(mode Mode, ids *pseudonym.Pseudonymizer) *Masker {
	return &Masker{mode: mode, ids: ids}
}

// Mode returns the masker's mode.
func (m *Masker) Mode() Mode { return m.mode }

// Addr returns what may be written for a, a client that asked at time at:
// a pseudonym address, a truncated prefix's address or a itself; the
// invalid Addr when nothing may be (None, no address, or a pseudonym of a
// day that has ended: its key is gone, and today's would link the days).
func (m *Masker) Addr(a netip.Addr, at time.Time) netip.Addr {
	if !a.IsValid() {
		return netip.Addr{}
	}
	a = a.Unmap()
	switch m.mode {
	case Pseudonym:
		if id, ok := m.ids.ID(a, at); ok {
			return pseudonymAddr(id)
		}
	case Truncate:
		bits := TruncateV6
		if a.Is4() {
			bits = TruncateV4
		}
		p, _ := a.Prefix(bits)
		return p.Addr()
	case Raw:
		return a
	}
	return netip.Addr{}
}

// Prefix writes p, a client prefix (a rate-limit bucket), the mode's way:
// its pseudonym, the prefix cut to the truncation length when longer, or
// "" in None mode.
func (m *Masker) Prefix(p netip.Prefix) string {
	switch m.mode {
	case Raw:
		return p.String()
	case Truncate:
		bits := TruncateV6
		if p.Addr().Is4() {
			bits = TruncateV4
		}
		q, _ := p.Addr().Prefix(min(bits, p.Bits()))
		return q.String()
	case Pseudonym: // named like a client, but not counted as one seen today
		return pseudonymAddr(m.ids.Name(p.Masked().Addr().Unmap())).String()
	}
	return ""
}

// pseudonymAddr writes pseudonym id as an address in PseudonymPrefix.
func pseudonymAddr(id uint64) netip.Addr {
	b := PseudonymPrefix.Addr().As16()
	for i := range 8 {
		b[15-i] = byte(id >> (8 * i))
	}
	return netip.AddrFrom16(b)
}
