package querylog

import (
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/resolver"
)

// messages holds a record's query and answer, one after the other. It is
// pooled: the copies of the record in every sink's queue share it, and the
// last writer done with it puts it back.
type messages struct {
	b    []byte
	qlen int
	refs atomic.Int32
}

var messagesPool = sync.Pool{New: func() any { return new(messages) }}

// maxPooled bounds the buffers the pool keeps: larger ones (rare large
// answers) are left to the garbage collector.
const maxPooled = 4096

// newMessages copies rec's messages for refs sinks: the bytes the client
// sent and got, packing only what came as a message instead (a query
// refused before it was read as bytes, an answer sent as JSON). nil when
// such a message does not pack.
func newMessages(rec *resolver.LogRecord, refs int) *messages {
	m := messagesPool.Get().(*messages)
	var err error
	m.b, err = appendMessage(m.b[:0], rec.QueryWire, rec.Query)
	m.qlen = len(m.b)
	if err == nil {
		m.b, err = appendMessage(m.b, rec.ResponseWire, rec.Response)
	}
	if err != nil {
		messagesPool.Put(m)
		return nil
	}
	m.refs.Store(int32(refs))
	return m
}

// appendMessage appends wire, or msg packed when there is no wire.
func appendMessage(b, wire []byte, msg *dns.Msg) ([]byte, error) {
	if wire != nil || msg == nil {
		return append(b, wire...), nil
	}
	packed, err := msg.Pack()
	return append(b, packed...), err
}

// release tells m that a sink is done with it.
func (m *messages) release() {
	if m.refs.Add(-1) == 0 && cap(m.b) <= maxPooled {
		messagesPool.Put(m)
	}
}
