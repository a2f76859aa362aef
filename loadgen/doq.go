package loadgen

import (
	"context"
	"crypto/tls"
	"io"
	"time"

	"github.com/dnsward/dnsward/doq"
	"github.com/dnsward/dnsward/dot/framing"
	"github.com/quic-go/quic-go"
)

// doqClient opens one stream per query on a single QUIC connection (RFC 9250).
// Queries go out through a doq.BatchWriter, so the queries of many in-flight
// workers share packets instead of each waking quic-go's send loop for a
// packet of its own.
type doqClient struct {
	conn    *quic.Conn
	out     *doq.BatchWriter
	timeout time.Duration
}

func dialDoQ(ctx context.Context, addr string, tlsConf *tls.Config, timeout time.Duration) (client, error) {
	c, err := quic.DialAddr(ctx, addr, tlsConf, nil)
	if err != nil {
		return nil, err
	}
	return &doqClient{conn: c, out: doq.NewBatchWriter(), timeout: timeout}, nil
}

func (d *doqClient) Exchange(ctx context.Context, wire []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	str, err := d.conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	dl, _ := ctx.Deadline()
	str.SetDeadline(dl)
	f, err := framing.AppendFrame(make([]byte, 0, 2+len(wire)), wire)
	if err != nil {
		return nil, err
	}
	if len(f) <= doq.MaxBatched {
		d.out.Add(str, f)
	} else if _, err := str.Write(f); err != nil {
		str.CancelRead(0)
		return nil, err
	} else {
		str.Close()
	}
	resp, err := framing.ReadFrame(str, nil)
	if err != nil {
		str.CancelRead(0)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return resp, nil
}

func (d *doqClient) Close() error {
	err := d.conn.CloseWithError(0, "")
	d.out.Close()
	return err
}
