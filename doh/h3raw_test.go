package doh

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/quic-go/qpack"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/quicvarint"
)

// h3Raw is an HTTP/3 client that writes frames as a test spells them, to
// probe the builtin engine's protocol handling.
type h3Raw struct {
	t  *testing.T
	qc *quic.Conn
}

// dialH3 connects to env's first TLS address with ALPN h3.
func dialH3(t *testing.T, env *testEnv) *h3Raw { t.Helper(); return dialH3With(t, env, nil) }

// dialH3With connects as dialH3 with a QUIC config.
func dialH3With(t *testing.T, env *testEnv, conf *quic.Config) *h3Raw {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	qc, err := quic.DialAddr(ctx, env.srv.TLSAddrs()[0].String(),
		&tls.Config{RootCAs: env.pki.Pool, ServerName: "dns.test", NextProtos: []string{"h3"}}, conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { qc.CloseWithError(0, "") })
	return &h3Raw{t: t, qc: qc}
}

// h3Frame is a frame of type typ with payload p.
func h3Frame(typ uint64, p []byte) []byte {
	return append(quicvarint.Append(quicvarint.Append(nil, typ), uint64(len(p))), p...)
}

// h3Settings is a SETTINGS frame with the given identifier/value pairs.
func h3Settings(pairs ...uint64) []byte {
	var p []byte
	for _, v := range pairs {
		p = quicvarint.Append(p, v)
	}
	return h3Frame(0x04, p)
}

// h3Headers is a HEADERS frame of fields, name and value alternating.
func h3Headers(fields ...string) []byte {
	var sec sectionBuf
	enc := qpack.NewEncoder(&sec)
	for i := 0; i < len(fields); i += 2 {
		_ = enc.WriteField(qpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return h3Frame(0x01, sec)
}

type sectionBuf []byte

func (s *sectionBuf) Write(p []byte) (int, error) { *s = append(*s, p...); return len(p), nil }

// getFields are a valid GET of wire at /dns-query.
func getFields(wire []byte) []string {
	return []string{":method", "GET", ":scheme", "https", ":authority", "dns.test",
		":path", "/dns-query?dns=" + base64.RawURLEncoding.EncodeToString(wire), "accept", "application/dns-message"}
}

// uni opens a unidirectional stream of type typ and writes frames on it,
// leaving it open.
func (c *h3Raw) uni(typ uint64, frames ...[]byte) *quic.SendStream {
	c.t.Helper()
	str, err := c.qc.OpenUniStream()
	if err != nil {
		c.t.Fatal(err)
	}
	b := quicvarint.Append(nil, typ)
	for _, f := range frames {
		b = append(b, f...)
	}
	if _, err := str.Write(b); err != nil {
		c.t.Fatal(err)
	}
	return str
}

// h3Response is what came back on a request stream.
type h3Response struct {
	fields map[string]string
	body   []byte
	err    error // a reset (*quic.StreamError) or the connection's end
}

// request writes frames on a new request stream, ends it, and reads the answer.
func (c *h3Raw) request(frames ...[]byte) h3Response {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	str, err := c.qc.OpenStreamSync(ctx)
	if err != nil {
		return h3Response{err: err}
	}
	_ = str.SetDeadline(time.Now().Add(5 * time.Second))
	for _, f := range frames {
		if _, err := str.Write(f); err != nil {
			return h3Response{err: err}
		}
	}
	_ = str.Close()
	return readH3Response(bufio.NewReader(str))
}

// readH3Response reads HEADERS and DATA frames until the stream ends.
func readH3Response(br *bufio.Reader) h3Response {
	r := h3Response{fields: map[string]string{}}
	for {
		typ, err := quicvarint.Read(br)
		if errors.Is(err, io.EOF) {
			return r
		}
		if err != nil {
			r.err = err
			return r
		}
		n, err := quicvarint.Read(br)
		if err != nil {
			r.err = err
			return r
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil {
			r.err = err
			return r
		}
		switch typ {
		case 0x01:
			next := qpack.NewDecoder().Decode(p)
			for {
				hf, err := next()
				if err != nil {
					break
				}
				r.fields[hf.Name] = hf.Value
			}
		case 0x00:
			r.body = append(r.body, p...)
		}
	}
}

// closedWith waits for the connection to end and returns its application
// error code as the server sent it, or -1.
func (c *h3Raw) closedWith() int64 {
	c.t.Helper()
	select {
	case <-c.qc.Context().Done():
	case <-time.After(5 * time.Second):
		c.t.Fatal("the server kept the connection open")
	}
	var ae *quic.ApplicationError
	if errors.As(context.Cause(c.qc.Context()), &ae) && ae.Remote {
		return int64(ae.ErrorCode)
	}
	c.t.Logf("connection ended with %v", context.Cause(c.qc.Context()))
	return -1
}

// streamCode is a reset's error code, or -1.
func streamCode(err error) int64 {
	var se *quic.StreamError
	if errors.As(err, &se) {
		return int64(se.ErrorCode)
	}
	return -1
}

// serverControl accepts the server's control stream and returns a reader
// positioned after its SETTINGS frame, and the settings.
func (c *h3Raw) serverControl() (*bufio.Reader, map[uint64]uint64) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		str, err := c.qc.AcceptUniStream(ctx)
		if err != nil {
			c.t.Fatal(err)
		}
		br := bufio.NewReader(str)
		if typ, err := quicvarint.Read(br); err != nil || typ != 0 {
			continue // a QPACK stream
		}
		typ, _ := quicvarint.Read(br)
		n, _ := quicvarint.Read(br)
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil || typ != 0x04 {
			c.t.Fatalf("first control frame: type %#x, %v", typ, err)
		}
		settings := map[uint64]uint64{}
		for len(p) > 0 {
			id, k, _ := quicvarint.Parse(p)
			v, l, _ := quicvarint.Parse(p[k:])
			settings[id] = v
			p = p[k+l:]
		}
		return br, settings
	}
}
