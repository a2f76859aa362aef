package filter

import (
	"encoding/json"
	"testing"
)

// TestUUIDBytes: the hyphenated form round-trips and anything else is
// refused.
func TestUUIDBytes(t *testing.T) {
	const id = "20ce8968-0bed-5526-acb4-1d2ae90c42d0"
	u, ok := uuidBytes(id)
	if !ok || formatUUID(u) != id {
		t.Fatalf("%s: %x %v", id, u, ok)
	}
	if u, ok := uuidBytes("20CE8968-0BED-5526-ACB4-1D2AE90C42D0"); !ok || formatUUID(u) != id {
		t.Errorf("upper case: %x %v", u, ok)
	}
	for _, bad := range []string{"", "20ce8968-0bed-5526-acb4-1d2ae90c42dz", "20ce8968-0bed-5526-acb41-d2ae90c42d0",
		"20ce89680bed5526acb41d2ae90c42d0----", "20ce8968-0bed-5526-acb4-1d2ae90c42d", "20-e8968-0bed-5526-acb4-1d2ae90c42d0"} {
		if _, ok := uuidBytes(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestIndicatorJSON: appendJSON writes what encoding/json reads back, for
// plain names and for values that need escaping.
func TestIndicatorJSON(t *testing.T) {
	for _, in := range []indicator{
		{Attr: "a", Event: "e", Type: "domain", Name: "bad.example", TS: 1796673593},
		{Attr: "a", Event: "e", Type: "url", Name: "x.example", Value: "https://x.example/\"q\"\\<&>\u00e9\n", TS: -1},
		{Attr: "a", Event: "e", Type: "domain|ip", Name: "d.example", Value: "d.example|2001:db8::1", IP: "2001:db8::1"},
	} {
		line := in.appendJSON(nil)
		var back indicator
		if err := json.Unmarshal(line, &back); err != nil || back != in || line[len(line)-1] != '\n' {
			t.Errorf("%+v: %s read back as %+v (%v)", in, line, back, err)
		}
	}
}
