package resolver

import (
	"context"
	"errors"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/transport"
)

// ErrLimited is what the chain returns for a query its admission step
// refused on a transport with a native way to say "slow down": DoH answers
// HTTP 429 Too Many Requests, DoQ resets the stream with DOQ_EXCESSIVE_LOAD
// (transports test it with errors.Is).
var ErrLimited = errors.New("resolver: client over its query rate")

// ErrBusy is what a front-end's own bound on queries waiting upstream (plain
// UDP's udp_max_pending) fails a query with: the query, not the upstreams,
// was refused. Entry answers it SERVFAIL with EDE 0 saying so, and the
// coalescer never hands it to the queries that joined the refused one:
// they resolve on their own, under their own transport's rules.
var ErrBusy = errors.New("too many queries waiting on upstreams")

// Admitter decides whether a client may have one more query answered (a
// rate limiter; ratelimit.Limiter satisfies it). The resolver owns this
// interface so that it never imports the limiter.
type Admitter interface {
	Admit(t transport.Kind, client netip.Addr) bool
}

// admission is the chain's rate-limit step. It charges every query once,
// whichever way it is answered: replay asks it before answering (through
// admit), and ServeDNS does not charge a request replay already charged.
// Plain UDP is charged by its transport right after the read (or by XDP),
// where a drop or TC=1 slip costs no parsing, so this step lets it pass.
type admission struct {
	next     Handler
	admitter Admitter
}

// Admission values, recorded on a Request by the admission step.
type Admission uint8

// The decisions the admission step records on a request.
const (
	NotAdmitted Admission = iota // not charged yet
	Admitted                     // charged and allowed
	Refused                      // charged and over the limit
)

// admit charges req's client once, however often it is asked.
func (h *admission) admit(req *Request) bool {
	if req.Transport == transport.UDP {
		return true
	}
	if req.Admission == NotAdmitted {
		req.Admission = Refused
		if h.admitter.Admit(req.Transport, req.Client.Addr()) {
			req.Admission = Admitted
		}
	}
	return req.Admission == Admitted
}

// ServeDNS answers an admitted request through next. A refused one gets
// ErrLimited on DoH and DoQ, and REFUSED with EDE 18 (Prohibited) on TCP
// and DoT, which have no other way to say it.
func (h *admission) ServeDNS(ctx context.Context, req *Request) (*dns.Msg, error) {
	if h.admit(req) {
		return h.next.ServeDNS(ctx, req)
	}
	return h.refuse(req)
}

// refuse is the answer to a refused request.
func (h *admission) refuse(req *Request) (*dns.Msg, error) {
	switch req.Transport {
	case transport.DoH1, transport.DoH2, transport.DoH3, transport.DoQ:
		return nil, ErrLimited
	}
	resp := NewReply(req.Msg, dns.RcodeRefused)
	AddEDE(req.Msg, resp, EDEProhibited, "rate limited")
	return resp, nil
}
