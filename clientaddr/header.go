package clientaddr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
)

// signature opens every PROXY protocol version 2 header.
var signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

const (
	fixedLen = 16 // signature, version/command, family/transport, length
	// MaxHeaderLen bounds the variable part of a header (addresses and TLVs)
	// that ReadHeader accepts; the protocol allows 65535 but no proxy sends
	// more than a few hundred bytes.
	MaxHeaderLen = 2048
)

// Command is the PROXY v2 command.
type Command uint8

// The PROXY v2 commands.
const (
	// Local: the proxy's own connection (a health check); keep the socket address.
	Local Command = 0
	// Proxy: the connection is relayed on behalf of Source.
	Proxy Command = 1
)

// Address families and transports as encoded in the family byte.
const (
	famUnspec = 0x0
	famInet   = 0x1
	famInet6  = 0x2
	famUnix   = 0x3
	tcpStream = 0x1
	udpDgram  = 0x2
)

// Header is a parsed PROXY protocol version 2 header.
type Header struct {
	Command Command
	// Source and Destination are the original client and the address it
	// connected to; both are invalid for Local and for non-IP families.
	Source, Destination netip.AddrPort
}

// Relayed reports whether h names the client a proxy relays (a PROXY
// command with addresses), rather than being the proxy's own (LOCAL).
func (h Header) Relayed() bool { return h.Command == Proxy && h.Source.IsValid() }

// ErrNoSignature is returned when a stream does not start with a PROXY v2 header.
var ErrNoSignature = errors.New("clientaddr: no PROXY v2 signature")

// HasSignature reports whether b begins with the PROXY v2 signature.
func HasSignature(b []byte) bool { return bytes.HasPrefix(b, signature) }

// ParseHeader parses the PROXY v2 header at the front of a datagram (the
// form dnsdist sends over UDP) and returns it with the payload after it.
func ParseHeader(b []byte) (Header, []byte, error) {
	if len(b) < fixedLen {
		if HasSignature(b) {
			return Header{}, nil, errors.New("clientaddr: datagram shorter than a PROXY v2 header")
		}
		return Header{}, nil, ErrNoSignature
	}
	if !HasSignature(b) {
		return Header{}, nil, ErrNoSignature
	}
	n := int(binary.BigEndian.Uint16(b[14:16]))
	if n > MaxHeaderLen {
		return Header{}, nil, fmt.Errorf("clientaddr: header length %d exceeds %d", n, MaxHeaderLen)
	}
	if n > len(b)-fixedLen {
		return Header{}, nil, fmt.Errorf("clientaddr: header length %d exceeds the datagram", n)
	}
	h, err := parse(b[12], b[13], b[fixedLen:fixedLen+n])
	if err != nil {
		return Header{}, nil, err
	}
	return h, b[fixedLen+n:], nil
}

// ReadHeader reads one PROXY v2 header from r, consuming exactly its bytes.
func ReadHeader(r io.Reader) (Header, error) {
	var fixed [fixedLen]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return Header{}, readFailed("reading header", err)
	}
	if !bytes.Equal(fixed[:12], signature) {
		return Header{}, ErrNoSignature
	}
	n := int(binary.BigEndian.Uint16(fixed[14:16]))
	if n > MaxHeaderLen {
		return Header{}, fmt.Errorf("clientaddr: header length %d exceeds %d", n, MaxHeaderLen)
	}
	rest := make([]byte, n)
	if _, err := io.ReadFull(r, rest); err != nil {
		return Header{}, readFailed("reading header body", err)
	}
	return parse(fixed[12], fixed[13], rest)
}

// readFailed says why reading a header failed without the failed read's
// own text: a net error names both ends of the socket, and these errors
// reach log lines. A timeout and an early end stay recognisable.
func readFailed(what string, err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = os.ErrDeadlineExceeded
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		err = io.ErrUnexpectedEOF
	default:
		err = errConnFailed
	}
	return fmt.Errorf("clientaddr: %s: %w", what, err)
}

// errConnFailed stands for a read error other than a timeout or an end.
var errConnFailed = errors.New("the connection failed")

// parse decodes the version/command byte, the family byte and the variable part.
func parse(verCmd, fam byte, rest []byte) (Header, error) {
	if verCmd>>4 != 2 {
		return Header{}, fmt.Errorf("clientaddr: unsupported version %d", verCmd>>4)
	}
	h := Header{Command: Command(verCmd & 0x0f)}
	switch h.Command {
	case Local:
		return h, nil // addresses, if any, are ignored
	case Proxy:
	default:
		return Header{}, fmt.Errorf("clientaddr: unknown command %d", h.Command)
	}
	var alen int
	switch fam >> 4 {
	case famInet:
		alen = 4
	case famInet6:
		alen = 16
	case famUnspec, famUnix:
		return h, nil // no IP address to take; the socket address stays
	default:
		return Header{}, fmt.Errorf("clientaddr: unknown address family %d", fam>>4)
	}
	if t := fam & 0x0f; t != tcpStream && t != udpDgram {
		return Header{}, fmt.Errorf("clientaddr: unknown transport %d", t)
	}
	if len(rest) < 2*alen+4 {
		return Header{}, fmt.Errorf("clientaddr: %d address bytes, need %d", len(rest), 2*alen+4)
	}
	src, _ := netip.AddrFromSlice(rest[:alen])
	dst, _ := netip.AddrFromSlice(rest[alen : 2*alen])
	ports := rest[2*alen:]
	h.Source = netip.AddrPortFrom(src.Unmap(), binary.BigEndian.Uint16(ports[0:2]))
	h.Destination = netip.AddrPortFrom(dst.Unmap(), binary.BigEndian.Uint16(ports[2:4]))
	return h, nil
}

// AppendBinary appends h encoded as a PROXY v2 header for a TCP stream. It is
// what a proxy (or a test posing as one) sends before the client's bytes.
func (h Header) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, signature...)
	b = append(b, 0x20|byte(h.Command))
	if h.Command == Local {
		return append(b, famUnspec<<4, 0, 0), nil
	}
	if h.Command != Proxy {
		return nil, fmt.Errorf("clientaddr: unknown command %d", h.Command)
	}
	src, dst := h.Source.Addr().Unmap(), h.Destination.Addr().Unmap()
	if !src.IsValid() || !dst.IsValid() {
		return nil, errors.New("clientaddr: PROXY header needs source and destination")
	}
	switch {
	case src.Is4() && dst.Is4():
		b = append(b, famInet<<4|tcpStream, 0, 12)
	default:
		src, dst = netip.AddrFrom16(src.As16()), netip.AddrFrom16(dst.As16())
		b = append(b, famInet6<<4|tcpStream, 0, 36)
	}
	b = append(b, src.AsSlice()...)
	b = append(b, dst.AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, h.Source.Port())
	return binary.BigEndian.AppendUint16(b, h.Destination.Port()), nil
}
