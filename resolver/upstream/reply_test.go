package upstream

import (
	"errors"
	"testing"

	"github.com/miekg/dns"
)

func TestParseReply(t *testing.T) {
	q := query("Match.Test.", 0)
	pack := func(edit func(r *dns.Msg)) []byte {
		r := answerA(q)
		r.Id = 42
		edit(r)
		b, err := r.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		raw  []byte
		ok   bool
	}{
		{"match", pack(func(*dns.Msg) {}), true},
		{"name case differs", pack(func(r *dns.Msg) { r.Question[0].Name = "match.TEST." }), true},
		{"formerr without question", pack(func(r *dns.Msg) { r.Question = nil; r.Answer = nil; r.Rcode = dns.RcodeFormatError }), true},
		{"wrong id", pack(func(r *dns.Msg) { r.Id = 43 }), false},
		{"wrong name", pack(func(r *dns.Msg) { r.Question[0].Name = "other.test." }), false},
		{"wrong type", pack(func(r *dns.Msg) { r.Question[0].Qtype = dns.TypeAAAA }), false},
		{"wrong class", pack(func(r *dns.Msg) { r.Question[0].Qclass = dns.ClassCHAOS }), false},
		{"not a response", pack(func(r *dns.Msg) { r.Response = false }), false},
		{"wrong opcode", pack(func(r *dns.Msg) { r.Opcode = dns.OpcodeNotify }), false},
		{"no question", pack(func(r *dns.Msg) { r.Question = nil }), false},
		{"short", []byte{0, 42, 0x80}, false},
		{"truncated body", pack(func(*dns.Msg) {})[:20], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseReply(q, 42, tt.raw)
			if tt.ok {
				if err != nil || r == nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if !errors.Is(err, errProtocol) || classify(err) != KindProtocol {
				t.Fatalf("got %v, %v; want a protocol error", r, err)
			}
		})
	}
}

// FuzzParseReply: arbitrary bytes from an upstream never crash the client,
// and anything accepted answers the question asked.
func FuzzParseReply(f *testing.F) {
	q := query("fuzz.test.", 0)
	good, _ := answerA(q).Pack()
	f.Add(good)
	f.Add([]byte{0, 0, 0x80, 0, 0, 1})
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := parseReply(q, 0, raw)
		if err != nil {
			return
		}
		if !r.Response || (len(r.Question) == 1 && !equalFoldASCII(r.Question[0].Name, "fuzz.test.")) {
			t.Fatalf("accepted a reply that does not answer the query: %v", r)
		}
	})
}
