package resolver

import "github.com/prometheus/client_golang/prometheus"

// Answer reuse: replay, the cache and request coalescing.
//
// Three mechanisms spare the upstreams and the chain work, each at its own
// position in resolver.New (chain.go says why there):
//
//   - replay (reuse_replay.go, in the entry step) repeats the packed bytes a
//     transport sent for an identical query within the last second, before
//     anything is unpacked;
//   - the cache (reuse_cache.go, below policy) holds unfiltered upstream
//     answers shared by every profile, packed (reuse_cache_wire.go), with
//     RFC 2308 negative caching, RFC 8767 serve-stale and prefetch;
//   - coalescing (reuse_coalesce.go, below the cache) sends one upstream
//     query for concurrent identical misses.
//
// They meet on the Request: while the chain answers, the cache and policy
// steps note what replay needs to know (reuseNotes), and the entry step
// decides from those notes whether the answer may be kept.
//
// # The transport contract
//
// A transport that holds the query's packed bytes (all of them do) answers
// each query with two calls on the chain, when it implements Replayer:
//
//  1. Replay(req, q, dst) with the packed query q, before unpacking it. req
//     carries Client, Transport, Profile and Received; Msg is not needed. The
//     chain's admission step charges the client here, once, and records its
//     decision on req. ok means the answer is in dst: send it, and that is
//     all. Otherwise unpack q into req.Msg and call ServeDNS with the same
//     req (so the client is not charged twice).
//  2. Sent(req, q, ans) with the packed answer the transport actually sent
//     (after its own ID, padding and truncation), once it is built. The
//     query log logs these bytes, and the chain keeps them when the notes
//     allow. An answer sent in another form (DoH's JSON API) is told with
//     Sent(req, nil, nil), so that the query log sees it too.
//
// Plain UDP is the exception to "charged in Replay": it is charged at the
// socket, where a drop or TC=1 slip costs no parsing (or in XDP), and the
// admission step lets UDP requests pass.

// reuseNotes is what the chain notes on a request while it answers it, for
// replay to decide what it may keep and how to count a replayed answer.
type reuseNotes struct {
	ticket      replayTicket       // noted by the entry step
	cached      bool               // the answer came from the cache, or was just stored in it
	uncacheable bool               // the cache would not store the answer: never replayed either
	stale       bool               // the answer is a stale one (RFC 8767)
	policy      prometheus.Counter // the policy counter the answer counted in, counted again on replay
}
