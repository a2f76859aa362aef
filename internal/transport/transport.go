// Package transport names the front-ends a query can arrive on. It is a leaf
// (it imports nothing of dnsward), so the resolver, the rate limiter, XDP and
// every front-end can share the names without depending on one another.
package transport

// Kind names the front-end a query arrived on.
type Kind uint8

// The transports dnsward serves.
const (
	UDP Kind = iota + 1
	TCP
	DoT
	DoH1
	DoH2
	DoH3
	DoQ
)

// Last is the highest Kind, for tables indexed by it.
const Last = DoQ

var names = [...]string{UDP: "udp", TCP: "tcp", DoT: "dot", DoH1: "doh1", DoH2: "doh2", DoH3: "doh3", DoQ: "doq"}

// String returns the transport's lower-case label as used in metrics.
func (k Kind) String() string {
	if int(k) < len(names) && names[k] != "" {
		return names[k]
	}
	return "unknown"
}
