package doq

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/dnsward/dnsward/internal/frontend"
)

func TestReadMessage(t *testing.T) {
	msg := func(n int) []byte { return append([]byte{byte(n >> 8), byte(n)}, bytes.Repeat([]byte{0xAB}, n)...) }
	big := msg(65535)
	for _, tc := range []struct {
		name string
		in   []byte
		want int // message length returned; 0 when err is set
		err  error
	}{
		{"header only", msg(12), 12, nil},
		{"fills the first buffer", msg(minReadBuf - 2), minReadBuf - 2, nil},
		{"one over the first buffer", msg(minReadBuf - 1), minReadBuf - 1, nil},
		{"largest", big, 65535, nil},
		{"FIN at once", nil, 0, io.ErrUnexpectedEOF},
		{"half a prefix", []byte{0}, 0, io.ErrUnexpectedEOF},
		{"truncated", msg(40)[:30], 0, io.ErrUnexpectedEOF},
		{"truncated large", big[:40000], 0, io.ErrUnexpectedEOF},
		{"zero length", []byte{0, 0}, 0, frontend.ErrZeroLength},
		{"shorter than a header", msg(11), 0, frontend.ErrShortMessage},
		{"trailing byte", append(msg(20), 0), 0, errTrailing},
		{"second message", append(msg(20), msg(20)...), 0, errTrailing},
		{"trailing after largest", append(append([]byte{}, big...), 1), 0, errTrailing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadMessage(bytes.NewReader(tc.in), nil)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if len(got) != tc.want || tc.want > 0 && !bytes.Equal(got, tc.in[2:]) {
				t.Fatalf("read %d bytes, want %d", len(got), tc.want)
			}
		})
	}
}
