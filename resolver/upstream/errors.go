package upstream

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
)

// Kind classifies an upstream failure; it is also the `kind` metrics label.
type Kind uint8

// The kinds of upstream failure.
const (
	KindNetwork  Kind = iota + 1 // dial, TLS, reset or closed connection
	KindTimeout                  // no valid answer before the deadline
	KindProtocol                 // malformed or mismatched answer, bad HTTP status
	KindServFail                 // the upstream answered SERVFAIL (metrics only)
	KindBusy                     // not sent: Options.MaxPending exchanges were waiting already
)

var kindNames = [...]string{KindNetwork: "network", KindTimeout: "timeout", KindProtocol: "protocol", KindServFail: "servfail", KindBusy: "busy"}

// String returns the kind's metrics label.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// Sentinels that errors.Is matches on every error an upstream or a Group
// returns. The resolver answers SERVFAIL with EDE 22 (No Reachable Authority)
// for ErrNoReachableAuthority and EDE 23 (Network Error) for ErrNetwork.
// ErrNoReachableAuthority also matches context.DeadlineExceeded, so code that
// cannot import this package tells the two apart with that.
var (
	// ErrNoReachableAuthority: every attempt timed out.
	ErrNoReachableAuthority error = &sentinel{msg: "no reachable authority", deadline: true}
	// ErrNetwork: at least one attempt failed otherwise (refused, reset,
	// TLS or protocol error).
	ErrNetwork error = &sentinel{msg: "network error"}
)

// sentinel is an error value that may also match context.DeadlineExceeded.
type sentinel struct {
	msg      string
	deadline bool
}

func (s *sentinel) Error() string { return s.msg }

func (s *sentinel) Is(target error) bool { return s.deadline && target == context.DeadlineExceeded }

// Error is one failed exchange with one upstream.
type Error struct {
	Upstream string // the upstream's URL
	Kind     Kind
	Err      error
}

// Error describes the failure.
func (e *Error) Error() string {
	return "upstream " + e.Upstream + ": " + e.Kind.String() + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is matches ErrNoReachableAuthority and context.DeadlineExceeded for
// timeouts, and ErrNetwork otherwise.
func (e *Error) Is(target error) bool {
	if e.Kind == KindTimeout {
		return target == ErrNoReachableAuthority || target == context.DeadlineExceeded
	}
	return target == ErrNetwork
}

// GroupError is returned by Group.Exchange when every upstream tried failed.
// errors.Is matches ErrNoReachableAuthority when all attempts timed out, and
// ErrNetwork otherwise; Errs holds each attempt's *Error.
type GroupError struct {
	Errs []*Error
}

// Error lists the causes.
func (e *GroupError) Error() string {
	parts := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		parts[i] = err.Error()
	}
	return "upstream: all upstreams failed: " + strings.Join(parts, "; ")
}

// Unwrap returns the sentinel for the group as a whole, never a single cause,
// so that one timeout among network errors does not read as "all timed out".
func (e *GroupError) Unwrap() error {
	for _, err := range e.Errs {
		if err.Kind != KindTimeout {
			return ErrNetwork
		}
	}
	return ErrNoReachableAuthority
}

// classify returns the kind of a transport error.
func classify(err error) Kind {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return KindTimeout
	case errors.As(err, &ne) && ne.Timeout():
		return KindTimeout
	case errors.Is(err, errProtocol):
		return KindProtocol
	}
	return KindNetwork
}

// errProtocol marks a reply that breaks the protocol.
var errProtocol = errors.New("protocol error")
