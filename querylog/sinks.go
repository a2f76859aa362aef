package querylog

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	framestream "github.com/farsightsec/golang-framestream"
)

// newSink opens the output cfg names.
func newSink(cfg SinkConfig) (sink, error) {
	if cfg.JSON != "" {
		return newFileSink(cfg.JSON, cfg.Rotation, appendJSON, nil)
	}
	u, err := url.Parse(cfg.Dnstap)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "file":
		return newFileSink(u.Path, cfg.Rotation, appendDnstap, dnstapControl)
	case "unix":
		return &sockSink{network: "unix", addr: u.Path}, nil
	case "tcp":
		return &sockSink{network: "tcp", addr: u.Host}, nil
	}
	return nil, fmt.Errorf("dnstap: want unix:///path, tcp://host:port or file:///path, got %q", cfg.Dnstap)
}

// fileSink appends encoded records to a rotating file. Records are
// buffered and written together; a write that fails (a full disk) is cut
// back out of the file, so the file always ends on a whole record, and the
// records in it are counted as lost.
type fileSink struct {
	rot     rotator
	encode  func([]byte, *record) []byte
	control func(framestream.ControlFrame) []byte // dnstap's START and STOP frames; nil for JSON
	buf     []byte
	pending int    // records in buf
	spill   []byte // the record write moves to the next file
}

func newFileSink(path string, rot Rotation, encode func([]byte, *record) []byte, control func(framestream.ControlFrame) []byte) (*fileSink, error) {
	s := &fileSink{rot: rotator{path: path, rot: rot}, encode: encode, control: control}
	if err := s.open(time.Now()); err != nil {
		return nil, err
	}
	return s, nil
}

// open opens the file and, for dnstap, starts a stream in it. A dnstap
// file that holds a stream already (an earlier run's, or the sink this one
// replaces on reload, which finishes its stream in the renamed file) is
// rotated aside first: readers stop at a stream's STOP frame, so each file
// must hold exactly one stream.
func (s *fileSink) open(now time.Time) error {
	if err := s.rot.open(now); err != nil {
		return err
	}
	if s.control != nil && s.rot.size > 0 {
		if err := s.rot.rotate(now); err != nil {
			return err
		}
	}
	return s.start()
}

// start begins a dnstap stream in the file just opened (a START frame).
func (s *fileSink) start() error {
	if s.control == nil {
		return nil
	}
	if _, err := s.rot.write(s.control(framestream.ControlStart)); err != nil {
		s.rot.close()
		return err
	}
	return nil
}

// write buffers r. A record that would take the file past max_size goes to
// the next one: the records buffered before it are written out first, and
// the next flush rotates. So a file passes max_size only when it holds a
// single record larger than that.
func (s *fileSink) write(r *record) (int, error) {
	mark := len(s.buf)
	s.buf = s.encode(s.buf, r)
	s.pending++
	if mark == 0 || !s.rot.over(len(s.buf)) {
		return 0, nil
	}
	s.spill = append(s.spill[:0], s.buf[mark:]...)
	s.buf, s.pending = s.buf[:mark], s.pending-1
	lost, err := s.flush()
	s.buf, s.pending = append(s.buf, s.spill...), 1
	return lost, err
}

// flush writes the buffered records, first rotating the file when due; the
// records are lost if the file cannot be opened or written.
func (s *fileSink) flush() (int, error) {
	if len(s.buf) == 0 {
		return 0, nil
	}
	lost := s.pending
	s.pending = 0
	defer func() { s.buf = s.buf[:0] }()
	now := time.Now()
	if s.rot.f != nil && s.rot.due(now, len(s.buf)) {
		s.stop()
		if err := s.rot.rotate(now); err != nil {
			return lost, err
		}
		if err := s.start(); err != nil {
			return lost, err
		}
	}
	if s.rot.f == nil { // the last open failed
		if err := s.open(now); err != nil {
			return lost, err
		}
	}
	good := s.rot.size
	if _, err := s.rot.write(s.buf); err != nil {
		s.rot.cut(good)
		return lost, err
	}
	return 0, nil
}

// stop ends the stream in the file (dnstap's STOP frame).
func (s *fileSink) stop() {
	if s.control != nil && s.rot.f != nil {
		s.rot.write(s.control(framestream.ControlStop))
	}
}

func (s *fileSink) close() {
	s.flush()
	s.stop()
	s.rot.close()
}

// dnstapControl encodes a Frame Streams control frame of the dnstap
// content type.
func dnstapControl(c framestream.ControlFrame) []byte {
	c.SetContentType(dnstap.FSContentType)
	var b bytesWriter
	w := bufio.NewWriter(&b)
	c.EncodeFlush(w) // cannot fail: it writes to memory
	return b
}

type bytesWriter []byte

func (b *bytesWriter) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// Socket sink timing: how long a write may block before the collector is
// deemed stalled, and the reconnection backoff.
const (
	sockTimeout    = time.Second
	sockBackoffMin = 100 * time.Millisecond
	sockBackoffMax = 10 * time.Second
)

var errDisconnected = errors.New("dnstap: not connected")

// sockSink streams dnstap frames to a collector over a Unix or TCP socket
// (bidirectional Frame Streams). When the collector is gone or stalls past
// sockTimeout, it drops records and reconnects with exponential backoff.
type sockSink struct {
	network, addr string
	conn          net.Conn
	w             *framestream.Writer
	buf           []byte
	pending       int
	backoff       time.Duration
	retry         time.Time
}

func (s *sockSink) connect() error {
	if time.Now().Before(s.retry) {
		return errDisconnected
	}
	c, err := net.DialTimeout(s.network, s.addr, sockTimeout)
	if err == nil {
		s.w, err = framestream.NewWriter(c, &framestream.WriterOptions{
			ContentTypes: [][]byte{dnstap.FSContentType}, Bidirectional: true, Timeout: sockTimeout,
		})
		if err != nil {
			c.Close()
		}
	}
	if err != nil {
		s.fail()
		return err
	}
	s.conn, s.backoff = c, 0
	return nil
}

// fail drops the connection and schedules the next attempt.
func (s *sockSink) fail() {
	if s.conn != nil {
		s.conn.Close()
		s.conn, s.w = nil, nil
	}
	s.backoff = min(max(2*s.backoff, sockBackoffMin), sockBackoffMax)
	s.retry = time.Now().Add(s.backoff)
}

func (s *sockSink) write(r *record) (int, error) {
	if s.w == nil {
		if err := s.connect(); err != nil {
			return 1, err
		}
	}
	s.buf = appendDnstap(s.buf, r)
	s.pending++
	return 0, nil
}

func (s *sockSink) flush() (int, error) {
	if len(s.buf) == 0 {
		return 0, nil
	}
	lost := s.pending
	s.pending = 0
	defer func() { s.buf = s.buf[:0] }()
	if s.w == nil {
		return lost, errDisconnected
	}
	// The frames are already length-prefixed: write them raw through the
	// connection's deadline.
	s.conn.SetWriteDeadline(time.Now().Add(sockTimeout))
	if _, err := s.conn.Write(s.buf); err != nil {
		s.fail()
		return lost, err
	}
	return 0, nil
}

func (s *sockSink) close() {
	s.flush()
	if s.w != nil {
		s.conn.SetDeadline(time.Now().Add(sockTimeout))
		s.w.Close()
		s.conn.Close()
	}
}
