package h3

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/dnsward/dnsward/doh/internal/httpmsg"
	"github.com/dnsward/dnsward/doq"
)

// request is one request stream and its answer; a connection recycles
// them, with their request, header map, context and buffers.
type request struct {
	c        *conn
	str      *quic.Stream
	br       *bufio.Reader
	msg      message
	req      *http.Request
	url      url.URL
	fields   httpmsg.Fields
	received time.Time
	body     httpmsg.Body
	rw       httpmsg.Response
	ctx      *reqCtx
	enc      *encoder
	out      []byte // the encoded answer
	// cancelled: the stream's context ended while the handler ran (the
	// client stopped reading, the connection closed) or it panicked, so ctx
	// is not reused
	cancelled bool
}

// reqCtx is a request's context: the stream's (cancelled once the answer
// is sent or the client stops reading it), with the handler's State under
// Config.StateKey and the connection's local address. It serves the
// connection's next request too unless it was cancelled while its handler
// ran: what still holds a cancelled context keeps seeing it cancelled, as
// with h2's streamCtx.
type reqCtx struct {
	context.Context
	key   any
	state State
	local net.Addr
}

// Value returns the State, the local address, or the stream context's value.
func (x *reqCtx) Value(key any) any {
	switch key {
	case x.key:
		return x.state
	case http.LocalAddrContextKey:
		return x.local
	}
	return x.Context.Value(key)
}

func newRequest(c *conn) *request {
	r := &request{c: c, br: bufio.NewReaderSize(nil, 2048), fields: httpmsg.NewFields(),
		rw: httpmsg.Response{Hdr: http.Header{}}, enc: newEncoder(), req: &http.Request{}}
	r.newCtx()
	return r
}

// newCtx gives r a context, and State, of its own.
func (r *request) newCtx() {
	c := r.c
	r.ctx = &reqCtx{Context: c.ctx, key: c.srv.cfg.StateKey, state: c.srv.cfg.NewState(c.ctx, c.remote), local: c.local}
	r.req = r.req.WithContext(r.ctx)
}

// Run serves the request on a worker: a worker's stack has grown once,
// while a new goroutine's grows (is copied) on nearly every request, in
// quic-go's stream read as much as in the handler. A client slow to send
// its request holds its worker for at most ReadTimeout; once every worker
// is busy, requests run on goroutines of their own (Config.Dispatch).
func (r *request) Run() {
	err := r.read()
	var rf *refusal
	switch {
	case errors.As(err, &rf):
		r.rw.Refuse(rf.status, rf.msg)
	case err != nil:
		r.abort(err)
		return
	case !r.call():
		r.abort(streamError(codeInternal, "handler_panic"))
		return
	}
	r.finish()
}

// read reads and checks the request; a *refusal is answered with its
// status, another error is the stream's or the connection's.
func (r *request) read() error {
	cfg := &r.c.srv.cfg
	r.received = time.Now()
	_ = r.str.SetReadDeadline(r.received.Add(cfg.ReadTimeout))
	r.br.Reset(r.str)
	err := readMessage(frameReader{r.br}, &r.msg, cfg.MaxHeaderBytes, cfg.MaxBody)
	if err == nil {
		err = r.build(r.msg.fields, cfg.MaxHeaderBytes)
	}
	if n := r.fields.DeclLen; err == nil && !r.msg.rest && n >= 0 && n != int64(len(r.msg.body)) {
		err = streamError(codeMessage, "content_length_mismatch")
	}
	return err
}

// finish sends the answer and recycles r.
func (r *request) finish() {
	if r.msg.rest { // answered before the request ended: the rest is not wanted (§4.1)
		r.str.CancelRead(quic.StreamErrorCode(codeNoError))
	}
	r.write()
	r.c.done(r)
}

// abort resets the stream, or closes the connection on a connection
// error, and recycles r.
func (r *request) abort(err error) {
	c := r.c
	defer c.done(r)
	code, connErr := errorCode(err)
	if connErr {
		c.fail(err)
		return
	}
	var he *h3Error
	if errors.As(err, &he) {
		c.srv.cfg.Logger.Debug("doh: HTTP/3 stream error", "reason", he.reason)
	}
	resetStream(r.str, code)
}

// call runs the handler; false if it panicked.
func (r *request) call() (ok bool) {
	cfg := &r.c.srv.cfg
	defer func() {
		r.cancelled = !ok || r.ctx.Err() != nil
		if !ok {
			if p := recover(); p != http.ErrAbortHandler {
				cfg.Logger.Error("doh: panic serving HTTP/3 request", "panic", p, "stack", string(debug.Stack()))
			}
		}
	}()
	r.ctx.Context = r.str.Context()
	r.ctx.state.Begin(r.received)
	r.body.B = r.msg.body
	r.body.Prepare(r.req)
	r.rw.Head = r.req.Method == http.MethodHead
	cfg.Handler.ServeHTTP(&r.rw, r.req)
	return true
}

// write sends the answer and the stream's FIN: a small one through the
// connection's batch writer, a larger one here, under WriteTimeout.
func (r *request) write() {
	r.out = r.enc.appendResponse(r.out[:0], &r.rw, time.Now())
	if len(r.out) <= doq.MaxBatched {
		r.c.out.Add(r.str, r.out) // copied
		return
	}
	_ = r.str.SetWriteDeadline(time.Now().Add(r.c.srv.cfg.WriteTimeout))
	if _, err := r.str.Write(r.out); err != nil {
		r.str.CancelWrite(quic.StreamErrorCode(codeRequestCancelled))
		return
	}
	_ = r.str.Close()
}

// reset readies r for the connection's next request.
func (r *request) reset() {
	r.str = nil
	r.br.Reset(nil)
	r.msg.body, r.msg.fields = httpmsg.TrimBuf(r.msg.body), httpmsg.TrimBuf(r.msg.fields)
	r.msg.reset()
	r.body.B = nil
	r.body.Reset()
	r.rw.Reset()
	r.fields.Reset()
	r.out = httpmsg.TrimBuf(r.out)
	if r.cancelled { // a fresh one: the cancelled context stays the stream's
		r.cancelled = false
		r.newCtx()
	}
	q := r.req
	q.Header, q.Body, q.URL, q.TLS, q.Trailer, q.Form, q.PostForm, q.MultipartForm = nil, nil, nil, nil, nil, nil, nil, nil
}
