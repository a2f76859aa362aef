package loadgen

import (
	"context"
	"net"
	"time"
)

// udpClient sends every query on one UDP socket and matches answers by ID.
type udpClient struct {
	*mux
	conn net.Conn
}

func dialUDP(ctx context.Context, addr string, timeout time.Duration) (client, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return nil, err
	}
	u := &udpClient{mux: newMux(timeout), conn: c}
	go u.readLoop()
	return u, nil
}

func (u *udpClient) readLoop() {
	buf := make([]byte, 65535)
	for {
		n, err := u.conn.Read(buf)
		if err != nil {
			u.fail(err)
			return
		}
		u.deliver(append([]byte(nil), buf[:n]...))
	}
}

func (u *udpClient) Exchange(ctx context.Context, wire []byte) ([]byte, error) {
	q, id, ch, ok := u.add(make([]byte, 0, len(wire)), wire)
	if !ok {
		return nil, errBusy
	}
	if _, err := u.conn.Write(q); err != nil {
		u.remove(id)
		return nil, err
	}
	return u.wait(ctx, id, ch)
}

func (u *udpClient) Close() error {
	u.fail(errClosed)
	return u.conn.Close()
}
