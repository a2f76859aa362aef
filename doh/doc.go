// Package doh serves DNS over HTTPS (RFC 8484) over HTTP/1.1, HTTP/2 and
// HTTP/3 with one http.Handler, plus a JSON API in the shape Google's and
// Cloudflare's public resolvers use.
//
// # Endpoints
//
//	GET  /dns-query?dns=<base64url>   RFC 8484 wire format
//	POST /dns-query                   body application/dns-message
//	GET  /resolve?name=&type=         JSON (application/dns-json)
//	GET  /dns-query?name=&type=       JSON, when there is no dns= parameter
//
// Every profile path answers the same requests: "/ads" and "/ads/dns-query"
// take wire-format queries, "/ads/resolve" JSON. "/dns-query/<client-id>"
// and "/ads/<client-id>" take both, naming the client (see Client IDs).
// Any other path goes to Config.Pages (the gateway's setup page, package
// onboarding), or is 404.
//
// # Profile selection
//
// A request is served by the first profile that matches, in this order:
//
//  1. the profile of a client ID listed in the configuration;
//  2. the request path, unless it is the generic /dns-query or /resolve;
//  3. the TLS server name (SNI), or the HTTP Host header when there is no SNI
//     (the cleartext listener behind a proxy), with or without a client-ID
//     label in front of a profile host or the server name;
//  4. the local address the connection arrived on;
//  5. the default profile.
//
// # Client IDs
//
// The last path segment after /dns-query or a profile path, else the first
// label of the server name, is the client's ID (resolver.Profiles.Identify,
// the one place that decides): a malformed one is answered 400, an unlisted
// one 403 when unknown clients are refused. Error bodies never repeat it.
// Routing happens in Handler, which serves HTTP/1.1 and both engines of
// HTTP/2 and of HTTP/3 alike.
//
// # Client addresses
//
// The client address handed to the resolver is the socket peer, replaced by
// the PROXY v2 source when ProxyProtocol is on, then by X-Forwarded-For or
// Forwarded, each only when the peer making the claim is in TrustedProxies.
// Client addresses are never logged.
//
// # Limits
//
// HTTP/2 runs on dnsward's own server (doh/internal/h2; Config.HTTP2
// "builtin", the default): one reader
// goroutine per connection reads frames (x/net/http2's Framer, except
// HEADERS) and decodes header blocks with this package's HPACK codec,
// answers what replay holds itself, hands other requests to long-lived
// workers, and answers leave in batches (one TLS record and one write for
// whatever completed together). It advertises
// MAX_CONCURRENT_STREAMS = MaxStreams and refuses streams beyond it with
// REFUSED_STREAM. Its rapid-reset defence (CVE-2023-44487) runs at most
// MaxStreams handlers per connection; a stream reset by the client keeps its
// handler's slot until the handler returns, a request reset before its
// handler started never runs, and the connection is closed with GOAWAY
// ENHANCE_YOUR_CALM once more than 4×MaxStreams requests wait for a slot or
// the client resets more than half of the streams it opens (over a decaying
// window of at least 128 streams), or once more than 10,000 control frames
// it answers (PING and SETTINGS acknowledgements, RST_STREAM) wait to be
// written, as x/net does; dnsward_doh_http2_errors_total counts these and
// every protocol error. HTTP/3 bounds streams with QUIC flow
// control (quic.Config.MaxIncomingStreams = MaxStreams), so a client cannot
// open more than that. Request headers are bounded by
// MaxHeaderBytes (431; on the builtin engine a header block is still
// decoded up to 4×MaxHeaderBytes, so that one huge field or many fields
// refuse only their stream, and beyond that ends the connection), bodies
// by MaxBody (413), reading a request by
// ReadTimeout, idle connections by IdleTimeout, and open connections by
// Conns (dnsward's one connection admission: per client prefix across every
// transport, and in all; trusted proxies count only in the total). The
// limits are per node.
//
// Config.HTTP2 "stdlib" serves HTTP/2 with net/http's own server instead,
// through the same Handler as HTTP/1.1 and HTTP/3, advertising
// MAX_CONCURRENT_STREAMS = MaxStreams. It has x/net's defences (MaxStreams
// handlers and 4×MaxStreams queued requests per connection, CONTINUATION
// bounds, 10,000 queued control frames, WriteTimeout per stream) but not
// the builtin engine's early-reset ratio; a header block past
// MaxHeaderBytes by much (one field larger than the bound, or a
// CONTINUATION after the bound) closes its connection rather than
// answering 431; and dnsward_doh_http2_errors_total
// counts none of its errors; it also answers on a goroutine per request
// without the reader's replay and batched writes, so it spends more CPU.
//
// HTTP/3 runs on dnsward's own engine (doh/internal/h3, Config.HTTP3
// "builtin", the default) or on quic-go's http3 server ("stdlib"). The
// builtin engine uses QPACK without a dynamic table, reads a request, runs
// the handler and answers on one worker with state recycled per
// connection, reads the body whole (MaxBody, 413) and bounds the headers
// (MaxHeaderBytes, 431) before the handler runs, writes small answers in
// batches, and sends GOAWAY on Shutdown. On either engine, a request whose
// answer is pending when Shutdown runs out of time is dropped with its
// connection.
//
// The cleartext listener speaks HTTP/1.1 only (no h2c).
package doh
