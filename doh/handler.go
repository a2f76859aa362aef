package doh

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/clientaddr"
	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/resolver"
)

// Handler is the one http.Handler serving DoH and the JSON API for every
// HTTP version. Server uses it; it can also be mounted in another server.
type Handler struct {
	handler      resolver.Handler
	replayer     resolver.Replayer // handler, when it replays; else nil
	profiles     *resolver.Profiles
	pages        http.Handler // what is not an endpoint; nil: 404
	trusted      clientaddr.Trusted
	maxBody      int
	readTimeout  time.Duration
	queryTimeout time.Duration
	log          *slog.Logger
	m            *metrics
	altSvc       atomic.Pointer[map[int][]string] // TCP port → Alt-Svc header value (shared: len = cap = 1)
}

// endpoint is what a path serves.
type endpoint uint8

const (
	endpointWire endpoint = iota // RFC 8484
	endpointJSON                 // /resolve
	endpointPage                 // any other path, with Config.Pages
)

// packBufs recycles response buffers (a DNS message is at most 64 KiB).
var packBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// queryBufs recycles the buffers queries are decoded into.
var queryBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// recycle puts bp back in pool, holding b's storage (b grew from *bp) unless
// b is nil or grew beyond a DNS message.
func recycle(pool *sync.Pool, bp *[]byte, b []byte) {
	if b != nil && cap(b) <= 64<<10 {
		*bp = b[:0]
	}
	pool.Put(bp)
}

// ServeHTTP answers one DoH or JSON request and counts it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.onWorker(w, r) }

// serveHTTP is ServeHTTP on the goroutine that runs it.
func (h *Handler) serveHTTP(w http.ResponseWriter, r *http.Request) {
	st := stateOf(r)
	start := st.receivedAt() // now, where no engine noted when the request arrived
	status, profile := h.serve(w, r, st)
	if status == 0 {
		return // a page, not a DoH request: not in the DoH metrics
	}
	h.m.request(versionOf(r), methodLabel(r.Method), status, profile, time.Since(start))
}

// serve returns the HTTP status written and the profile name ("none" before
// one is chosen); status 0 for a page (Config.Pages).
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, st *streamState) (int, string) {
	kind, req, herr := h.begin(w, r, st)
	if herr != nil {
		return h.fail(w, herr), "none"
	}
	if kind == endpointPage {
		h.pages.ServeHTTP(w, r)
		return 0, ""
	}
	if kind == endpointJSON {
		return h.serveJSON(w, r, req), req.Profile.Name
	}
	return h.serveWire(w, r, req, st.offered()), req.Profile.Name
}

// begin routes r and builds the request the resolver will see; st is a
// builtin engine's stream state, else nil. A request the engine
// already offered to replay (replayNow) keeps the one built then, and with
// it the rate limiter's decision on it.
func (h *Handler) begin(w http.ResponseWriter, r *http.Request, st *streamState) (endpoint, *resolver.Request, *httpError) {
	if req := st.offered(); req != nil {
		return endpointWire, req, nil // routed (and Alt-Svc set) when it was offered
	}
	kind, prof, id, ok := h.route(r.URL.Path)
	if !ok {
		if h.pages != nil {
			return endpointPage, nil, nil
		}
		return 0, nil, errorf(http.StatusNotFound, "no DoH endpoint at this path")
	}
	serverName, facts := serverName(r), st.factsOf(r)
	who, err := h.profiles.Identify(resolver.Ingress{ServerName: serverName, Local: facts.local.Addr(), Profile: prof, ClientID: id})
	switch {
	case errors.Is(err, resolver.ErrUnknownClient):
		return 0, nil, errorf(http.StatusForbidden, "unknown client ID")
	case err != nil:
		return 0, nil, errorf(http.StatusBadRequest, "invalid client ID: one DNS label of letters, digits and hyphens")
	}
	if r.TLS != nil && r.ProtoMajor < 3 {
		if v, ok := (*h.altSvc.Load())[int(facts.local.Port())]; ok {
			w.Header()["Alt-Svc"] = v
		}
	}
	if kind == endpointWire && r.Method == http.MethodGet && isJSONQuery(r.URL.RawQuery) {
		kind = endpointJSON // Cloudflare-style JSON on the wire-format path
	}
	var req *resolver.Request
	var received time.Time // HTTP/1 and HTTP/3: when the chain is called
	if st != nil {
		req, received = &st.req, st.received // recycled with the stream, once its handler has returned
	} else {
		req = new(resolver.Request)
	}
	*req = resolver.Request{
		Client:       clientaddr.ClientFromHeaders(facts.peer, r.Header, h.trusted),
		Transport:    transportOf(r),
		ServerName:   serverName,
		Profile:      who.Profile,
		ClientID:     who.ID,
		ClientListed: who.Listed,
		Received:     received,
	}
	return kind, req, nil
}

// replayNow answers an RFC 8484 GET or POST (its body already read whole)
// from replay (resolver.Replayer) on the calling goroutine: the builtin
// HTTP/2 engine calls it on the connection's reader, before handing the
// request to a worker. It declines whatever replay does not answer,
// keeping the request it offered in the stream's state for serve to go on
// with, so that the client is charged once.
func (h *Handler) replayNow(w http.ResponseWriter, r *http.Request) bool {
	if h.replayer == nil || r.Method != http.MethodGet && r.Method != http.MethodPost {
		return false
	}
	st := stateOf(r)
	kind, req, herr := h.begin(w, r, st)
	if herr != nil || kind != endpointWire || !accepts(r.Header.Get("Accept"), mediaDNSMessage) {
		return false
	}
	qbp := queryBufs.Get().(*[]byte)
	wire, herr := wireQuery(r, h.maxBody, *qbp)
	defer func() { recycle(&queryBufs, qbp, wire) }()
	if herr != nil {
		return false
	}
	if !h.replay(w, req, wire) {
		st.offer = req
		return false
	}
	h.m.request(versionOf(r), methodLabel(r.Method), http.StatusOK, req.Profile.Name, time.Since(st.receivedAt()))
	return true
}

// route maps a path to an endpoint, the profile a profile path selects
// (nil for the generic paths: it is chosen by host or address) and the
// client ID the path ends with ("" for none; not yet validated):
// "/dns-query/<id>" and "/<profile path>/<id>".
func (h *Handler) route(path string) (endpoint, *resolver.Profile, string, bool) {
	switch path {
	case "/dns-query":
		return endpointWire, nil, "", true
	case "/resolve":
		return endpointJSON, nil, "", true
	}
	if p, ok := h.profiles.ByPath(path); ok {
		return endpointWire, p, "", true
	}
	prefix, last := splitLast(path)
	if last == "resolve" {
		if p, ok := h.profiles.ByPath(prefix); ok {
			return endpointJSON, p, "", true
		}
	}
	if last == "" || prefix == "" {
		return 0, nil, "", false
	}
	if prefix == "/dns-query" {
		return endpointWire, nil, last, true
	}
	if p, ok := h.profiles.ByPath(prefix); ok {
		return endpointWire, p, last, true
	}
	return 0, nil, "", false
}

// splitLast splits a path before its last segment: "/ads/x" → "/ads", "x".
func splitLast(path string) (string, string) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}

// serveWire answers an RFC 8484 request.
// offered is the request replay declined on the HTTP/2 reader, or nil.
func (h *Handler) serveWire(w http.ResponseWriter, r *http.Request, req, offered *resolver.Request) int {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return h.fail(w, errMethod)
	}
	if !accepts(r.Header.Get("Accept"), mediaDNSMessage) {
		return h.fail(w, errorf(http.StatusNotAcceptable, "this endpoint answers application/dns-message only"))
	}
	if r.ProtoMajor == 3 && r.Method == http.MethodPost {
		// net/http applies ReadTimeout to HTTP/1 and HTTP/2; quic-go's HTTP/3
		// needs it per stream (the builtin engine has read the body already).
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(h.readTimeout))
	}
	qbp := queryBufs.Get().(*[]byte)
	wire, herr := wireQuery(r, h.maxBody, *qbp)
	defer func() { recycle(&queryBufs, qbp, wire) }()
	if herr != nil {
		return h.fail(w, herr)
	}
	if offered == nil && h.replay(w, req, wire) { // an offered request replay declined already
		return http.StatusOK
	}
	q, herr := parseQuery(wire)
	if herr != nil {
		return h.fail(w, herr)
	}
	req.Msg = q
	resp, herr := h.resolve(r.Context(), req)
	if herr != nil {
		return h.fail(w, herr)
	}
	resp.Compress = true
	resolver.PadResponse(q, resp)
	bp := packBufs.Get().(*[]byte)
	b, err := resp.PackBuffer((*bp)[:cap(*bp)])
	defer func() { recycle(&packBufs, bp, b) }()
	if err != nil {
		h.log.Error("doh: packing answer failed", "error", err)
		if b, err = resolver.NewReply(q, dns.RcodeServerFailure).Pack(); err != nil {
			return h.fail(w, errorf(http.StatusInternalServerError, "answer could not be encoded"))
		}
		resp.Rcode = dns.RcodeServerFailure
	}
	if h.replayer != nil {
		h.replayer.Sent(req, wire, b)
	}
	writeAnswer(w, mediaDNSMessage, answerMaxAge(resp), b)
	return http.StatusOK
}

// replay answers wire from the bytes sent for the same query a moment ago
// (resolver.Replayer), with the max-age its TTLs allow.
func (h *Handler) replay(w http.ResponseWriter, req *resolver.Request, wire []byte) bool {
	if h.replayer == nil {
		return false
	}
	bp := packBufs.Get().(*[]byte)
	ans, age, ok := h.replayer.Replay(req, wire, (*bp)[:0])
	defer recycle(&packBufs, bp, ans)
	if !ok {
		return false
	}
	writeAnswer(w, mediaDNSMessage, maxAge(age), ans)
	return true
}

// resolve asks the resolver chain. Errors become SERVFAIL (still HTTP 200),
// except a rate-limited client, which gets HTTP 429;
// a truncated answer is never relayed, since DoH has no size limit to excuse it.
func (h *Handler) resolve(ctx context.Context, req *resolver.Request) (*dns.Msg, *httpError) {
	ctx, cancel := context.WithTimeout(ctx, h.queryTimeout)
	defer cancel()
	resp, err := h.handler.ServeDNS(ctx, req)
	switch {
	case errors.Is(err, resolver.ErrDrop):
		return nil, errorf(http.StatusBadRequest, "DNS message refused")
	case errors.Is(err, resolver.ErrLimited):
		return nil, errorf(http.StatusTooManyRequests, "rate limited: slow down")
	case err != nil:
		h.log.Debug("doh: resolving failed", frontend.ErrAttr(err))
		resp = resolver.NewReply(req.Msg, dns.RcodeServerFailure)
	case resp == nil:
		h.log.Error("doh: handler returned no answer and no error")
		resp = resolver.NewReply(req.Msg, dns.RcodeServerFailure)
	case resp.Truncated:
		h.log.Error("doh: handler returned a truncated answer; answering SERVFAIL")
		resp = resolver.NewReply(req.Msg, dns.RcodeServerFailure)
	}
	resp.Id = req.Msg.Id
	return resp, nil
}

// isJSONQuery reports whether a wire-format path's query string is a JSON
// API request: name= without dns=.
func isJSONQuery(raw string) bool {
	name := false
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		switch k, _, _ := strings.Cut(pair, "="); k {
		case "dns":
			return false
		case "name":
			name = true
		}
	}
	return name
}

// fail writes an HTTP error and returns its status.
func (h *Handler) fail(w http.ResponseWriter, e *httpError) int {
	writeError(w, e)
	return e.status
}

// serverName is the TLS SNI, or the Host header without port when there is none.
func serverName(r *http.Request) string {
	if r.TLS != nil && r.TLS.ServerName != "" {
		return r.TLS.ServerName
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.Trim(host, "[]")
}

// connFacts are the addresses of a request's connection.
type connFacts struct {
	peer  netip.AddrPort // the socket peer (after a trusted PROXY v2 header)
	local netip.AddrPort // the address the connection arrived on
}

// readFacts parses a connection's peer address and looks up its local
// address in its context (net/http's LocalAddrContextKey).
func readFacts(ctx context.Context, remote string) connFacts {
	ap, _ := netip.ParseAddrPort(remote)
	local, _ := ctx.Value(http.LocalAddrContextKey).(net.Addr)
	return connFacts{peer: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), local: frontend.AddrPort(local)}
}

// transportOf maps the HTTP version to the resolver's transport.
func transportOf(r *http.Request) transport.Kind {
	switch r.ProtoMajor {
	case 3:
		return transport.DoH3
	case 2:
		return transport.DoH2
	}
	return transport.DoH1
}

// versionOf is r's place in versions (the HTTP version label).
func versionOf(r *http.Request) int {
	switch r.ProtoMajor {
	case 3:
		return 2
	case 2:
		return 1
	}
	return 0
}

// methodLabel bounds the method label's values.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost:
		return m
	}
	return "other"
}
