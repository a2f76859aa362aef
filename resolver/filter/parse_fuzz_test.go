package filter

import (
	"strings"
	"testing"
)

// fuzzParse checks that any input parses without panicking, every entry is
// a name a Builder accepts and the resulting set contains it.
func fuzzParse(f *testing.F, format Format, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var b Builder
		var names []string
		_, err := Parse(strings.NewReader(in), format, "fuzz", nil, func(e Entry) {
			if !b.Add(e.Name, e.Scope) {
				t.Fatalf("entry %q not accepted by the builder", e.Name)
			}
			if e.Action == ActLocalData && e.RR == nil {
				t.Fatalf("local data without a record for %q", e.Name)
			}
			if e.Scope != ScopeBelow && len(names) < 100 {
				names = append(names, strings.Clone(e.Name))
			}
		})
		if err != nil {
			return
		}
		s := b.Build()
		for _, n := range names {
			if !s.Contains(n) {
				t.Fatalf("set lacks parsed name %q", n)
			}
		}
	})
}

func FuzzParseHosts(f *testing.F) {
	fuzzParse(f, FormatHosts, "0.0.0.0 a.example b.example # c\r\n", "*.x.example\n", "ü.example.\n::1 localhost\n")
}

func FuzzParseAdBlock(f *testing.F) {
	fuzzParse(f, FormatAdBlock, "||a.example^$important\n@@||b.example^\n", "x.example##.ad\n||*.c.example^|\n")
}

func FuzzParseRPZ(f *testing.F) {
	fuzzParse(f, FormatRPZ, "$ORIGIN rpz.\n@ SOA a. b. (1 2 3 4 5)\nx CNAME .\n*.y CNAME *.\nz A 1.2.3.4\n",
		"q TXT \"a;b\" ; c\n  AAAA ::1\n")
}

func FuzzParseAuto(f *testing.F) {
	fuzzParse(f, FormatAuto, "0.0.0.0 a.example\n", "||a.example^\n", "$TTL 5\nx CNAME .\n")
}
