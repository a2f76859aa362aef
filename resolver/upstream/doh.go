package upstream

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// dohMediaType is the RFC 8484 message media type.
const dohMediaType = "application/dns-message"

// dohClient posts queries (RFC 8484 §4.1, ID 0) over HTTP/2, or HTTP/3 for
// h3:// URLs, reusing connections.
type dohClient struct {
	url       string
	client    *http.Client
	closeIdle func()
}

func newDoH(ep endpoint, opts Options) *dohClient {
	tlsConf := opts.tlsConfig(ep.serverName)
	c := &dohClient{url: ep.url()}
	if ep.scheme == schemeH3 {
		t := &http3.Transport{
			TLSClientConfig: tlsConf,
			QUICConfig:      &quic.Config{MaxIdleTimeout: opts.IdleTimeout},
			Dial: func(ctx context.Context, addr string, tlsConf *tls.Config, qc *quic.Config) (*quic.Conn, error) {
				return quic.DialAddrEarly(ctx, loopbackFor(addr), tlsConf, qc)
			},
			Logger: opts.Logger,
		}
		c.client = &http.Client{Transport: t}
		c.closeIdle = func() { _ = t.Close() }
		return c
	}
	t := &http.Transport{
		TLSClientConfig: tlsConf,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, loopbackFor(addr))
		},
		ForceAttemptHTTP2:   true,
		IdleConnTimeout:     opts.IdleTimeout,
		MaxIdleConnsPerHost: 4,
		TLSHandshakeTimeout: opts.Timeout,
	}
	c.client = &http.Client{Transport: t}
	c.closeIdle = t.CloseIdleConnections
	return c
}

func (c *dohClient) exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	bp := getBuf()
	frame, err := packFrame(q, 0, *bp)
	if err != nil {
		putBuf(bp)
		return nil, fmt.Errorf("%w: %v", errProtocol, err)
	}
	// The transport may read the body after Do returns: give it its own copy.
	body := bytes.Clone(frame[2:])
	putBuf(bp)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", dohMediaType)
	req.Header.Set("Accept", dohMediaType)
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: HTTP status %s", errProtocol, resp.Status)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != dohMediaType {
		return nil, fmt.Errorf("%w: content type %q", errProtocol, resp.Header.Get("Content-Type"))
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxMsg+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxMsg {
		return nil, fmt.Errorf("%w: answer over %d bytes", errProtocol, maxMsg)
	}
	return parseReply(q, 0, raw)
}

func (c *dohClient) close() error {
	c.closeIdle()
	return nil
}
