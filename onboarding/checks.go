package onboarding

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
	"sync"
	"time"

	"github.com/dnsward/dnsward/internal/transport"
	"github.com/dnsward/dnsward/resolver"
)

// Seen is what the gateway noted about one check name's resolution: the
// profile and transport the visitor's DNS reached it through. No address.
type Seen struct {
	Profile   string
	Transport transport.Kind
}

// Checks remembers, for a short time and in memory only, which of the
// setup page's random check names were resolved through this gateway
// (resolver.CheckRecorder). It holds at most max names: a flood of made-up
// names pushes out the oldest, never grows it.
type Checks struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.Mutex
	seen  map[string]seenAt
	order []string // tokens in the order recorded, for expiry and eviction
}

type seenAt struct {
	Seen
	at time.Time
}

// Default bounds of Checks.
const (
	DefaultCheckTTL  = 5 * time.Minute
	DefaultCheckKeep = 10000
)

// tokenLen is the length of a check token: 16 random bytes in base32.
const tokenLen = 26

var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewChecks returns an empty store that forgets a name after ttl and keeps
// at most max (defaults when 0).
func NewChecks(ttl time.Duration, max int) *Checks {
	if ttl <= 0 {
		ttl = DefaultCheckTTL
	}
	if max <= 0 {
		max = DefaultCheckKeep
	}
	return &Checks{ttl: ttl, max: max, now: time.Now, seen: map[string]seenAt{}}
}

// NewToken returns a fresh random check token: one DNS label of lower-case
// letters and digits.
func NewToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return strings.ToLower(tokenEncoding.EncodeToString(b))
}

// ValidToken reports whether s has the shape NewToken gives.
func ValidToken(s string) bool {
	if len(s) != tokenLen {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// Record notes that token was resolved through req's profile and transport;
// a name not shaped like a token is ignored.
func (c *Checks) Record(token string, req *resolver.Request) {
	if !ValidToken(token) {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(now)
	if _, ok := c.seen[token]; ok {
		return // the first query (A before AAAA, say) tells the story
	}
	for len(c.order) >= c.max {
		delete(c.seen, c.order[0])
		c.order = c.order[1:]
	}
	c.seen[token] = seenAt{Seen{Profile: req.Profile.Name, Transport: req.Transport}, now}
	c.order = append(c.order, token)
}

// Lookup returns what was noted for token, if it was resolved through the
// gateway within the last ttl.
func (c *Checks) Lookup(token string) (Seen, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(c.now())
	s, ok := c.seen[token]
	return s.Seen, ok
}

// expireLocked drops the names older than ttl (order is by age).
func (c *Checks) expireLocked(now time.Time) {
	n := 0
	for n < len(c.order) && now.Sub(c.seen[c.order[n]].at) > c.ttl {
		delete(c.seen, c.order[n])
		n++
	}
	if n > 0 {
		c.order = append(c.order[:0:0], c.order[n:]...)
	}
}
