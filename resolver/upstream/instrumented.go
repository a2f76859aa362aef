package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// exchanger is one protocol's client. exchange runs under a context that
// already carries the upstream's timeout; the reply's ID need not match q's.
type exchanger interface {
	exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error)
	close() error
}

// instrumented turns an exchanger into a resolver.Upstream: it applies the
// timeout, restores the caller's ID, classifies errors and records metrics.
type instrumented struct {
	ep         endpoint
	u          exchanger
	timeout    time.Duration
	pending    atomic.Int64 // exchanges waiting on the upstream now
	maxPending int64
	log        *slog.Logger
	m          upstreamMetrics
}

// errBusy is why an exchange over Options.MaxPending was not sent.
var errBusy = errors.New("too many exchanges waiting on this upstream")

// errBadQuery rejects a query the upstream must not be asked.
var errBadQuery = errors.New("query must be a single-question QUERY-class message without QR")

// Exchange sends q and returns the upstream's answer with q's ID.
func (u *instrumented) Exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	if q == nil || len(q.Question) != 1 || q.Response {
		return nil, fmt.Errorf("upstream %s: %w", u.ep, errBadQuery)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("upstream %s: %w", u.ep, context.Cause(ctx))
	}
	if u.pending.Add(1) > u.maxPending {
		u.pending.Add(-1)
		u.m.fail(KindBusy)
		return nil, &Error{Upstream: u.ep.String(), Kind: KindBusy, Err: errBusy}
	}
	defer u.pending.Add(-1)
	tctx, cancel := context.WithTimeout(ctx, u.timeout)
	defer cancel()
	start := time.Now()
	r, err := u.u.exchange(tctx, q)
	u.m.observe(time.Since(start).Seconds())
	if err == nil && r.Truncated {
		err = fmt.Errorf("%w: truncated answer", errProtocol)
	}
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			// The caller gave up: not the upstream's fault.
			return nil, fmt.Errorf("upstream %s: %w", u.ep, context.Cause(ctx))
		}
		kind := classify(err)
		if tctx.Err() != nil {
			kind = KindTimeout
		}
		u.m.fail(kind)
		u.log.Debug("upstream exchange failed", "upstream", u.ep.String(), "kind", kind.String(), "err", err)
		return nil, &Error{Upstream: u.ep.String(), Kind: kind, Err: err}
	}
	if r.Rcode == dns.RcodeServerFailure {
		u.m.fail(KindServFail)
	}
	r.Id = q.Id
	return r, nil
}

// String returns the upstream's canonical URL.
func (u *instrumented) String() string { return u.ep.String() }

// Close releases the upstream's connections.
func (u *instrumented) Close() error {
	if err := u.u.close(); err != nil {
		return fmt.Errorf("upstream %s: close: %w", u.ep, err)
	}
	return nil
}

// parseReply unpacks raw as the answer to q sent with ID id. Errors wrap
// errProtocol.
func parseReply(q *dns.Msg, id uint16, raw []byte) (*dns.Msg, error) {
	if len(raw) < 12 {
		return nil, fmt.Errorf("%w: %d-byte reply", errProtocol, len(raw))
	}
	if got := uint16(raw[0])<<8 | uint16(raw[1]); got != id {
		return nil, fmt.Errorf("%w: reply ID %d, sent %d", errProtocol, got, id)
	}
	r := new(dns.Msg)
	if err := r.Unpack(raw); err != nil {
		return nil, fmt.Errorf("%w: unpack reply: %v", errProtocol, err)
	}
	if err := matchReply(q, r); err != nil {
		return nil, err
	}
	return r, nil
}

// matchReply checks that r answers q: QR set, same opcode and question.
func matchReply(q, r *dns.Msg) error {
	if !r.Response || r.Opcode != q.Opcode {
		return fmt.Errorf("%w: reply is not a response to the query's opcode", errProtocol)
	}
	// A reply to a malformed query may carry no question (FORMERR); any other
	// reply must echo ours.
	if len(r.Question) == 0 && r.Rcode == dns.RcodeFormatError {
		return nil
	}
	if len(r.Question) != 1 {
		return fmt.Errorf("%w: reply has %d questions", errProtocol, len(r.Question))
	}
	a, b := q.Question[0], r.Question[0]
	if a.Qtype != b.Qtype || a.Qclass != b.Qclass || !equalFoldASCII(a.Name, b.Name) {
		return fmt.Errorf("%w: reply question %s does not match %s", errProtocol, b.String(), a.String())
	}
	return nil
}

// equalFoldASCII compares DNS names case-insensitively (ASCII only, RFC 4343).
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
