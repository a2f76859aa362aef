package resolver

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"
)

// ErrDrop tells a transport to send nothing back (a message with QR set, for
// instance: answering responses invites reflection loops).
var ErrDrop = errors.New("resolver: message dropped")

// AdvertisedUDPSize is the EDNS(0) UDP payload size dnsward advertises and uses
// upstream: the DNS Flag Day 2020 value that avoids IP fragmentation.
const AdvertisedUDPSize = 1232

// entry is the outermost step: it rejects what is not a standard query,
// counts and times every answer, turns errors into SERVFAIL with an Extended
// DNS Error, and normalises the header and OPT record of whatever the inner
// steps returned so that they need not care.
type entry struct {
	next    Handler
	metrics *Metrics
	log     *slog.Logger
	replay  *replay    // nil: replay off (no cache configured)
	admit   *admission // nil: no admission step
	qlog    QueryLog   // nil: no query log
}

func (h *entry) ServeDNS(ctx context.Context, req *Request) (*dns.Msg, error) {
	q := req.Msg
	if q.Response {
		h.metrics.Malformed(req.Transport, "qr_set")
		return nil, ErrDrop
	}
	start := req.start(time.Now())
	var epoch uint64
	if h.replay != nil {
		epoch = h.replay.policy.Load() // before resolving: a change during it spoils the answer for replay
	}
	if h.metrics != nil {
		h.metrics.inflight.Inc()
		defer h.metrics.inflight.Dec()
	}
	resp, err := h.answer(ctx, req)
	if err != nil {
		if errors.Is(err, ErrLimited) {
			if h.qlog != nil {
				h.logLimited(req, start)
			}
			if h.metrics != nil { // counted as the REFUSED it stands for
				h.metrics.answered(req, dns.RcodeRefused, time.Since(start))
			}
		}
		return nil, err
	}
	req.reuse.ticket.epoch = epoch
	finish(q, resp)
	if h.qlog != nil { // logged when the transport tells what it sent
		req.qlog = pendingLog{resp: resp, start: start}
	}
	if h.metrics != nil {
		h.metrics.answered(req, resp.Rcode, time.Since(start))
	}
	return resp, nil
}

func (h *entry) answer(ctx context.Context, req *Request) (resp *dns.Msg, err error) {
	q := req.Msg
	defer func() {
		// A bug below must cost one SERVFAIL, not the process.
		if p := recover(); p != nil {
			h.log.Error("resolver: panic while answering", "panic", p, "stack", string(debug.Stack()))
			resp, err = NewReply(q, dns.RcodeServerFailure), nil
		}
	}()
	if h.admit != nil && !h.admit.admit(req) { // before the checks: a bad query costs its client a token too
		return h.admit.refuse(req)
	}
	if rcode, reason := checkQuery(q); reason != "" {
		h.metrics.Malformed(req.Transport, reason)
		return NewReply(q, rcode), nil
	}
	resp, err = h.next.ServeDNS(ctx, req)
	if err == nil {
		req.reuse.ticket.ok = !req.reuse.stale && !req.reuse.uncacheable
		return resp, nil
	}
	if ctx.Err() != nil || errors.Is(err, ErrLimited) {
		return nil, err // the client went away, or its transport says "slow down" in its own way
	}
	h.log.Debug("resolver: no answer", "name", q.Question[0].Name, "err", err)
	resp = NewReply(q, dns.RcodeServerFailure)
	if errors.Is(err, ErrBusy) {
		AddEDE(q, resp, EDEOther, ErrBusy.Error())
	} else if errors.Is(err, context.DeadlineExceeded) {
		AddEDE(q, resp, EDENoReachableAuthority, "no upstream answered in time")
	} else {
		AddEDE(q, resp, EDENetworkError, "upstreams unreachable")
	}
	return resp, nil
}

// checkQuery returns the RCODE for a query the chain must not resolve, with a
// metric label saying why; reason is "" for a well-formed standard query.
func checkQuery(q *dns.Msg) (rcode int, reason string) {
	switch {
	case q.Opcode != dns.OpcodeQuery:
		return dns.RcodeNotImplemented, "opcode"
	case len(q.Question) != 1:
		return dns.RcodeFormatError, "qdcount"
	case countOPT(q) > 1:
		return dns.RcodeFormatError, "opt_count" // RFC 6891 §6.1.1
	case q.Question[0].Qclass != dns.ClassINET:
		return dns.RcodeRefused, "qclass"
	}
	switch q.Question[0].Qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		return dns.RcodeRefused, "zone_transfer"
	}
	if opt := q.IsEdns0(); opt != nil && opt.Version() != 0 {
		return dns.RcodeBadVers, "edns_version" // RFC 6891 §6.1.3
	}
	return dns.RcodeSuccess, ""
}

// countOPT counts q's OPT records: miekg/dns keeps every one it unpacks,
// and IsEdns0 returns just the last.
func countOPT(q *dns.Msg) int {
	n := 0
	for _, rr := range q.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			n++
		}
	}
	return n
}

// finish gives resp the client's ID, question, RD and CD bits, AD only when
// the client set AD or DO (RFC 6840 §5.8), and an OPT record exactly when the
// query had one (keeping any Extended DNS Errors).
func finish(q, resp *dns.Msg) {
	resp.Id = q.Id
	resp.Response = true
	resp.Question = q.Question
	resp.RecursionDesired = q.RecursionDesired
	resp.CheckingDisabled = q.CheckingDisabled
	resp.RecursionAvailable = true
	qopt := q.IsEdns0()
	resp.AuthenticatedData = resp.AuthenticatedData && (q.AuthenticatedData || qopt != nil && qopt.Do())
	ede := edeOptions(resp)
	removeOPT(resp)
	if qopt == nil {
		return
	}
	resp.SetEdns0(AdvertisedUDPSize, qopt.Do())
	resp.IsEdns0().Option = ede // Pack moves an extended RCODE (BADVERS) into the OPT
}

// MalformedReply builds the answer to a message that did not parse: FORMERR
// with the client's ID when the header is readable and is a query (RFC 1035
// §4.1.1), or nil when nothing should be sent back.
func MalformedReply(wire []byte) *dns.Msg {
	if len(wire) < 12 || wire[2]&0x80 != 0 { // no header, or QR set
		return nil
	}
	m := new(dns.Msg)
	m.Id = uint16(wire[0])<<8 | uint16(wire[1])
	m.Response = true
	m.Opcode = int(wire[2]>>3) & 0xF
	m.Rcode = dns.RcodeFormatError
	return m
}

// Replay implements Replayer: the kept answer for q, counted as the chain
// counts an answer.
func (h *entry) Replay(req *Request, q, dst []byte) ([]byte, uint32, bool) {
	if h.replay == nil {
		return nil, 0, false
	}
	now := time.Now() // freshness is judged now: the query may have waited since Received
	start := req.start(now)
	var w wireQuery
	if !parseQuery(q, req.Profile.id(), req.Transport, &w) || h.admit != nil && !h.admit.admit(req) {
		return nil, 0, false
	}
	e := h.replay.lookup(&w, now)
	if e == nil || req.Transport == transport.UDP && len(e.ans) > UDPLimit(w.udpSize) {
		return nil, 0, false
	}
	at := len(dst)
	ans := e.answer(q, &w, dst)
	if e.cached {
		h.metrics.cacheHit()
	}
	if e.policy != nil {
		e.policy.Inc()
	}
	h.metrics.answered(req, e.rcode, time.Since(start))
	if h.qlog != nil {
		h.qlog.Log(e.logRecord(req, start, q, ans[at:]))
	}
	return ans, e.maxAge, true
}

// Sent implements Replayer: it logs the answer and keeps it for replay.
func (h *entry) Sent(req *Request, q, ans []byte) {
	if h.qlog != nil && req.qlog.resp != nil {
		h.logSent(req, q, ans)
	}
	if h.replay == nil || !req.reuse.ticket.ok || ans == nil {
		return
	}
	var w wireQuery
	if parseQuery(q, req.Profile.id(), req.Transport, &w) {
		h.replay.keep(&w, req, ans)
	}
}

// UDPLimit is the largest answer sent over UDP to a client that advertised
// ednsSize (0: no EDNS): that size capped at the 1232 bytes dnsward
// advertises (DNS Flag Day 2020: no IP fragmentation), or 512 bytes without
// EDNS (RFC 1035 §4.2.1). Larger answers go out with TC=1.
func UDPLimit(ednsSize int) int {
	if ednsSize == 0 {
		return dns.MinMsgSize
	}
	return min(max(ednsSize, dns.MinMsgSize), AdvertisedUDPSize)
}
