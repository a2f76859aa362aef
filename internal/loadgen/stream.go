package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"net"
	"runtime"
	"time"

	"github.com/dnsward/dnsward/internal/frontend"
)

// streamClient pipelines length-framed queries on one TCP or TLS connection
// (RFC 7766): a writer goroutine coalesces queued frames into one write, a
// reader goroutine matches answers by ID, so answers may come in any order.
type streamClient struct {
	*mux
	conn   net.Conn
	frames chan []byte
	single bool // one query per write: no batching in writeLoop
}

func dialStream(ctx context.Context, addr string, tlsConf *tls.Config, timeout time.Duration, single bool) (client, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tlsConf != nil {
		tc := tls.Client(c, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, err
		}
		c = tc
	}
	s := &streamClient{mux: newMux(timeout), conn: c, frames: make(chan []byte, 1024), single: single}
	go s.readLoop()
	go s.writeLoop()
	return s, nil
}

func (s *streamClient) readLoop() {
	br := bufio.NewReaderSize(s.conn, 64<<10)
	for {
		resp, err := frontend.ReadFrame(br, nil)
		if err != nil {
			s.fail(err)
			return
		}
		s.deliver(resp)
	}
}

func (s *streamClient) writeLoop() {
	var batch []byte
	for {
		select {
		case f := <-s.frames:
			batch = append(batch[:0], f...)
		case <-s.dead:
			return
		}
		if !s.single {
			runtime.Gosched() // let other ready queries queue theirs: one write for many
		}
	drain:
		for !s.single && len(batch) < 32<<10 {
			select {
			case f := <-s.frames:
				batch = append(batch, f...)
			default:
				break drain
			}
		}
		if _, err := s.conn.Write(batch); err != nil {
			s.fail(err)
			return
		}
	}
}

func (s *streamClient) Exchange(ctx context.Context, wire []byte) ([]byte, error) {
	f, id, ch, ok := s.add(make([]byte, 2, 2+len(wire)), wire)
	if !ok {
		return nil, errBusy
	}
	binary.BigEndian.PutUint16(f, uint16(len(wire)))
	select {
	case s.frames <- f:
	case <-ctx.Done():
		s.remove(id)
		return nil, ctx.Err()
	case <-s.dead:
		s.remove(id)
		return nil, errClosed
	}
	return s.wait(ctx, id, ch)
}

func (s *streamClient) Close() error {
	s.fail(errClosed)
	return s.conn.Close()
}
