package resolver

import (
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/transport"
)

// QueryLog is told of every answer the chain gives (Config.QueryLog): the
// final one, as the entry step normalised it, whether resolved, replayed,
// refused by admission (ErrLimited included) or failed. Log runs on the
// query's goroutine: it must not block, and must copy whatever it keeps of
// rec, whose messages and slices belong to the transport.
type QueryLog interface {
	Log(rec LogRecord)
}

// LogRecord is one answered query, as QueryLog sees it. Exactly one of
// Query and QueryWire is set: replayed answers come packed, resolved ones
// as messages.
type LogRecord struct {
	Received  time.Time
	Latency   time.Duration
	Client    netip.Addr // a log must pseudonymize or drop it, never keep it
	Transport transport.Kind
	Profile   string
	ClientID  string // the client's own label (Request.ClientID), "" if none
	Outcome   Outcome
	Category  string // the list category that blocked the answer, "" if none
	Policy    bool   // the policy step changed the answer (a block or a rewrite)

	Query, Response         *dns.Msg // Response is nil for OutcomeLimited
	QueryWire, ResponseWire []byte
}

// Outcome says where an answer came from.
type Outcome uint8

// The outcomes of a query.
const (
	OutcomeLocal    Outcome = iota // built by the chain: local names, blocks, refusals, FORMERR, SERVFAIL
	OutcomeCache                   // a cache hit (or a replay of an answer the cache held)
	OutcomeStale                   // a stale answer (RFC 8767)
	OutcomeUpstream                // resolved upstream for this query
	OutcomeLimited                 // refused by admission with ErrLimited: no DNS answer was sent
)

var outcomeNames = [...]string{"local", "cache", "stale", "upstream", "limited"}

// String returns the outcome's lower-case name, as logs write it.
func (o Outcome) String() string { return outcomeNames[o] }

// outcome is where req's answer came from, from what the steps noted.
func (r *Request) outcome() Outcome {
	switch {
	case r.reuse.stale:
		return OutcomeStale
	case r.upstream:
		return OutcomeUpstream
	case r.reuse.cached:
		return OutcomeCache
	}
	return OutcomeLocal
}

// logAnswer tells the query log of resp, req's final answer (nil: refused
// with ErrLimited).
func (h *entry) logAnswer(req *Request, start time.Time, resp *dns.Msg) {
	rec := LogRecord{
		Received: start, Latency: time.Since(start), Client: req.Client.Addr(), Transport: req.Transport,
		Profile: req.Profile.Name, ClientID: req.ClientID, Outcome: req.outcome(), Category: req.category, Policy: req.reuse.policy != nil,
		Query: req.Msg, Response: resp,
	}
	if resp == nil {
		rec.Outcome = OutcomeLimited
	}
	h.qlog.Log(rec)
}

// logRecord is the query log's record of e replayed as ans for the packed
// query q.
func (e *replayEntry) logRecord(req *Request, start time.Time, q, ans []byte) LogRecord {
	o := OutcomeLocal
	if e.cached {
		o = OutcomeCache
	}
	return LogRecord{
		Received: start, Latency: time.Since(start), Client: req.Client.Addr(), Transport: req.Transport,
		Profile: req.Profile.Name, ClientID: req.ClientID, Outcome: o, Category: e.blocked, Policy: e.policy != nil,
		QueryWire: q, ResponseWire: ans,
	}
}
