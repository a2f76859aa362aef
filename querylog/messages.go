package querylog

import "github.com/dnsward/dnsward/resolver"

// inlineMessages is how many bytes of query and answer a record holds in
// itself: most fit, so the query path copies them into one of the sink's
// records, with no allocation. Larger ones get a buffer of their own.
const inlineMessages = 512

// messages is a record's query and answer, one after the other.
type messages struct {
	inline [inlineMessages]byte
	large  []byte // the messages when they do not fit inline; else nil
	n      int    // bytes in inline
	qlen   int
}

// bytes returns the query followed by the answer.
func (m *messages) bytes() []byte {
	if m.large != nil {
		return m.large
	}
	return m.inline[:m.n]
}

// set copies q and a into m.
func (m *messages) set(q, a []byte) {
	m.qlen, m.large = len(q), nil
	if len(q)+len(a) > inlineMessages {
		m.large = append(append(make([]byte, 0, len(q)+len(a)), q...), a...)
		return
	}
	m.n = copy(m.inline[:], q)
	m.n += copy(m.inline[m.n:], a)
}

// wireOf returns rec's messages: the bytes the client sent and got, packing
// only what came as a message instead (a query refused before it was read
// as bytes, an answer sent as JSON); ok is false when such a message does
// not pack.
func wireOf(rec *resolver.LogRecord) (q, a []byte, ok bool) {
	q, a = rec.QueryWire, rec.ResponseWire
	var err error
	if q == nil && rec.Query != nil {
		if q, err = rec.Query.Pack(); err != nil {
			return nil, nil, false
		}
	}
	if a == nil && rec.Response != nil {
		if a, err = rec.Response.Pack(); err != nil {
			return nil, nil, false
		}
	}
	return q, a, true
}
