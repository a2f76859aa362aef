package main

import (
	"bytes"
	"testing"

	"github.com/dnsward/dnsward/resolver/filter"
)

// TestWriteParses checks every format is deterministic and parses back
// with format detection into the number of names asked for.
func TestWriteParses(t *testing.T) {
	for _, format := range []string{"hosts", "domains", "adblock", "rpz"} {
		var a, b bytes.Buffer
		if err := write(&a, 500, 7, format); err != nil {
			t.Fatal(err)
		}
		if err := write(&b, 500, 7, format); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: same seed, different output", format)
		}
		st, err := filter.Parse(&a, filter.FormatAuto, "gen", nil, func(filter.Entry) {})
		if err != nil || st.Entries != 500 || st.Skipped != 0 {
			t.Errorf("%s: parse = %+v, %v; want 500 entries, none skipped", format, st, err)
		}
	}
	if err := write(&bytes.Buffer{}, 1, 1, "csv"); err == nil {
		t.Error("unknown format accepted")
	}
}
