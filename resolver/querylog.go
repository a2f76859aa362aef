package resolver

import (
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/transport"
)

// QueryLog is told of every answer the chain gives (Config.QueryLog): the
// final one, as the client got it, whether resolved, replayed, refused by
// admission (ErrLimited included) or failed. A resolved answer is logged
// when the transport calls Sent with the bytes it sent, a replayed one when
// it is replayed, an ErrLimited refusal when ServeDNS returns it. Log runs
// on the query's goroutine: it must not block, and must copy whatever it
// keeps of rec, whose messages and slices belong to the transport.
type QueryLog interface {
	Log(rec LogRecord)
}

// LogRecord is one answered query, as QueryLog sees it. QueryWire and
// ResponseWire are the bytes the client sent and got; Query is set when the
// query was unpacked (not for replays), and stands in for QueryWire when a
// refusal comes before any bytes are at hand (ErrLimited); Response is set
// only when the answer went out in another form (DoH's JSON API).
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

	Query, Response         *dns.Msg // no Response for OutcomeLimited
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

// pendingLog is what the entry step notes on a request whose answer the
// query log waits for: the transport's Sent brings the bytes it sent.
type pendingLog struct {
	resp  *dns.Msg // the answer ServeDNS returned; nil: nothing pending
	start time.Time
}

// logRecord is the query log's record of req answered since start; the
// caller adds the messages.
func (r *Request) logRecord(start time.Time) LogRecord {
	return LogRecord{
		Received: start, Latency: time.Since(start), Client: r.Client.Addr(), Transport: r.Transport,
		Profile: r.Profile.Name, ClientID: r.ClientID, Outcome: r.outcome(), Category: r.category, Policy: r.reuse.policy != nil,
		Query: r.Msg,
	}
}

// logLimited tells the query log of req, refused with ErrLimited: no
// answer was sent.
func (h *entry) logLimited(req *Request, start time.Time) {
	rec := req.logRecord(start)
	rec.Outcome = OutcomeLimited
	h.qlog.Log(rec)
}

// logSent tells the query log of req's answer, as the transport sent it:
// ans for the packed query q, or, when both are nil (the answer went out
// in another form), the message ServeDNS returned.
func (h *entry) logSent(req *Request, q, ans []byte) {
	rec := req.logRecord(req.qlog.start)
	if ans != nil {
		rec.QueryWire, rec.ResponseWire = q, ans
	} else {
		rec.Response = req.qlog.resp
	}
	req.qlog = pendingLog{}
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
