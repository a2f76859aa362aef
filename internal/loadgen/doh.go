package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// dohClient POSTs application/dns-message (RFC 8484) over one HTTP/2
// connection or one HTTP/3 connection; requests are multiplexed on it.
type dohClient struct {
	url string
	rt  http.RoundTripper
	hc  *http.Client
}

func newDoH(url string, tlsConf *tls.Config, h3 bool, timeout time.Duration) client {
	var rt http.RoundTripper
	if h3 {
		rt = &http3.Transport{TLSClientConfig: tlsConf}
	} else {
		rt = &http.Transport{
			TLSClientConfig:     tlsConf,
			ForceAttemptHTTP2:   true,
			MaxConnsPerHost:     1, // one connection; HTTP/2 multiplexes on it
			MaxIdleConnsPerHost: 1,
		}
	}
	return &dohClient{url: url, rt: rt, hc: &http.Client{Transport: rt, Timeout: timeout}}
}

func (d *dohClient) Exchange(ctx context.Context, wire []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(wire))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/dns-message")
	req.Header.Set("Accept", "application/dns-message")
	resp, err := d.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 65536))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: HTTP %d", errHTTPStatus, resp.StatusCode)
	}
	return body, nil
}

func (d *dohClient) Close() error {
	if c, ok := d.rt.(io.Closer); ok {
		return c.Close()
	}
	d.rt.(*http.Transport).CloseIdleConnections()
	return nil
}
