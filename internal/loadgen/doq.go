package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/dnsward/dnsward/doq"
	"github.com/dnsward/dnsward/internal/frontend"
)

// doqClient opens one stream per query on a single QUIC connection (RFC 9250).
// Queries go out through a doq.BatchWriter, so the queries of many in-flight
// workers share packets instead of each waking quic-go's send loop for a
// packet of its own.
type doqClient struct {
	conn    *quic.Conn
	out     *doq.BatchWriter
	timeout time.Duration
	single  bool // each query written on its own stream by itself, not batched
}

func dialDoQ(ctx context.Context, addr string, tlsConf *tls.Config, timeout time.Duration, single bool) (client, error) {
	c, err := quic.DialAddr(ctx, addr, tlsConf, nil)
	if err != nil {
		return nil, err
	}
	return &doqClient{conn: c, out: doq.NewBatchWriter(doq.RequestCancelled), timeout: timeout, single: single}, nil
}

func (d *doqClient) Exchange(ctx context.Context, wire []byte) ([]byte, error) {
	deadline := time.Now().Add(d.timeout)
	str, err := d.open(ctx, deadline)
	if err != nil {
		return nil, err
	}
	str.SetDeadline(deadline)
	var small [doq.MaxBatched]byte // Add copies the frame: no allocation for it
	if !d.single && 2+len(wire) <= len(small) {
		f, _ := frontend.AppendFrame(small[:0], wire)
		d.out.Add(str, f)
	} else if err := d.writeAlone(str, wire); err != nil {
		str.CancelRead(0)
		return nil, err
	}
	resp, err := doq.ReadMessage(str, nil)
	if err != nil {
		str.CancelRead(0)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return resp, nil
}

// open takes a stream at once while the server's stream credit lasts, and
// waits for credit until deadline only when it is used up: the context and
// timer that OpenStreamSync needs cost 4 allocations a query.
func (d *doqClient) open(ctx context.Context, deadline time.Time) (*quic.Stream, error) {
	str, err := d.conn.OpenStream()
	if err == nil {
		return str, nil
	}
	if limited := new(quic.StreamLimitReachedError); !errors.As(err, &limited) {
		return nil, err
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	return d.conn.OpenStreamSync(ctx)
}

// writeAlone writes a query (with Options.Single, or too large for the
// batch writer) and the FIN by itself.
func (d *doqClient) writeAlone(str *quic.Stream, wire []byte) error {
	f, err := frontend.AppendFrame(make([]byte, 0, 2+len(wire)), wire)
	if err != nil {
		return err
	}
	if _, err := str.Write(f); err != nil {
		return err
	}
	return str.Close()
}

func (d *doqClient) Close() error {
	err := d.conn.CloseWithError(0, "")
	d.out.Close()
	return err
}
