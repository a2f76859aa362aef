package resolver

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestLocalParseErrors: bad records and zone files are refused with the
// problem, and the zone file's line where the parser knows it.
func TestLocalParseErrors(t *testing.T) {
	for _, tt := range []struct{ line, want string }{
		{"nas.home.example. 300 IN A 192.0.2.300", `dns: bad A A: "192.0.2.300"`},
		{"nas.home.example. 300 IN DNAME other.example.", "type DNAME is not supported (A, AAAA, CNAME, TXT, PTR, MX, SRV, NS, SOA)"},
		{"nas.home.example. 300 CH TXT x", "class CH: only IN records are answered"},
		{"a*.home.example. 300 IN A 192.0.2.1", "a*.home.example.: a wildcard is only the whole leftmost label (*.name)"},
		{"", "no record"},
		{"a.example. A 192.0.2.1\nb.example. A 192.0.2.2", "one record a line"},
	} {
		if _, err := ParseLocalRecord(tt.line); err == nil || err.Error() != tt.want {
			t.Errorf("ParseLocalRecord(%q): %v, want %s", tt.line, err, tt.want)
		}
	}
	const soa = "$ORIGIN z.example.\n@ IN SOA ns admin 1 2 3 4 5\n"
	for _, tt := range []struct{ zone, want string }{
		{soa + "nas IN A 192.0.2.1\nbad IN A nope\n", `z.zone:4: dns: bad A A: "nope"`},
		{"$ORIGIN z.example.\nnas IN A 192.0.2.1\n", "z.zone: no SOA record: a zone file names its zone with one"},
		{soa + "@ IN SOA ns admin 2 2 3 4 5\n", `z.zone: "z.example.\t3600\tIN\tSOA\tns.z.example. admin.z.example. 2 2 3 4 5": a second SOA record: a zone file holds one zone`},
		{soa + "other.example. IN A 192.0.2.1\n", `z.zone: "other.example.\t3600\tIN\tA\t192.0.2.1": outside the zone z.example.`},
		{soa + "$INCLUDE /etc/passwd\n", "z.zone:3: dns: $INCLUDE directive not allowed"},
	} {
		if _, err := parseLocalZone(strings.NewReader(tt.zone), "z.zone"); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("zone %q: %v, want %s", tt.zone, err, tt.want)
		}
	}
	rr1, _ := ParseLocalRecord("a.example. IN CNAME b.example.")
	rr2, _ := ParseLocalRecord("a.example. IN A 192.0.2.1")
	if _, err := NewLocalData([]dns.RR{rr1, rr2}, false); err == nil || !strings.Contains(err.Error(), "a CNAME record and other records") {
		t.Errorf("CNAME and other data: %v", err)
	}
}

// FuzzParseLocalZone: no zone file crashes the parser or the index built
// from what it accepts.
func FuzzParseLocalZone(f *testing.F) {
	f.Add(localTestZone)
	f.Add("$ORIGIN z.example.\n@ IN SOA ns admin 1 2 3 4 5\n*.a IN CNAME b\nb IN TXT \"x\"\n")
	f.Add("$ORIGIN z.\n@ SOA a b 1 2 3 4 5\n@ AAAA ::1\n\\@ A 1.2.3.4\n")
	f.Fuzz(func(t *testing.T, zone string) {
		rrs, err := parseLocalZone(strings.NewReader(zone), "f.zone")
		if err != nil {
			return
		}
		if d, err := NewLocalData(rrs, true); err == nil {
			for _, rr := range rrs {
				d.lookup(lowerName(rr.Header().Name))
				d.lookup("x." + lowerName(rr.Header().Name))
			}
		}
	})
}
