package filter

import (
	"fmt"
	"strings"
	"testing"
)

// parsed renders entries compactly: "name" (the subtree), "*.name" (below
// only), "=name" (exact), with "!imp", "@allow", "nx", "nodata" or the
// local-data record appended.
func parsed(t *testing.T, f Format, source, input string) ([]string, ParseStats) {
	t.Helper()
	var got []string
	st, err := Parse(strings.NewReader(input), f, source, nil, func(e Entry) {
		s := strings.Clone(e.Name)
		switch e.Scope {
		case ScopeBelow:
			s = "*." + s
		case ScopeExact:
			s = "=" + s
		}
		switch e.Action {
		case ActImportant:
			s += " !imp"
		case ActAllow:
			s += " @allow"
		case ActNXDomain:
			s += " nx"
		case ActNoData:
			s += " nodata"
		case ActLocalData:
			s += " " + strings.ReplaceAll(e.RR.String(), "\t", " ")
		}
		got = append(got, s)
	})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return got, st
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		format  Format
		source  string
		input   string
		want    []string
		skipped int
		detect  Format
	}{
		{
			name:   "hosts with awkward lines",
			format: FormatAuto,
			input: "# comment\r\n127.0.0.1 localhost\r\n0.0.0.0 ads.example.com tracker.example.net # inline\r\n" +
				"0.0.0.0 Trailing.Dot.Example.\r\n::  v6.example\n0.0.0.0 0.0.0.0\n0.0.0.0 ads.example.com\n" +
				"0.0.0.0 bücher.example\n0.0.0.0\n   \n0.0.0.0 bad_label!.example\n",
			want: []string{"ads.example.com", "tracker.example.net", "trailing.dot.example", "v6.example",
				"ads.example.com", "xn--bcher-kva.example"},
			skipped: 3, detect: FormatHosts,
		},
		{
			name:    "plain domains and wildcards",
			format:  FormatHosts,
			input:   "example.com\n*.wild.example\n1.2.3.4\nEXAMPLE.org.\n# c\nfoo..bar\n" + strings.Repeat("a", 64) + ".com\n",
			want:    []string{"example.com", "*.wild.example", "example.org"},
			skipped: 3, detect: FormatHosts,
		},
		{
			name:   "adblock",
			format: FormatAuto,
			input: "[Adblock Plus 2.0]\n! Title: x\n||ads.example.com^\r\n@@||ok.ads.example.com^\n" +
				"||evil.example^$important\n||x.example^$third-party\nexample.com##.banner\n" +
				"||example.com/path^\n/regex/\n||*.wild.example^\n||münchen.example^|\nplain.example\n" +
				"|exact.example^\n0.0.0.0 hosts.example\n||trailing.example.^\n",
			want: []string{"ads.example.com", "ok.ads.example.com @allow", "evil.example !imp", "*.wild.example",
				"xn--mnchen-3ya.example", "plain.example", "hosts.example", "trailing.example"},
			skipped: 5, detect: FormatAdBlock,
		},
		{
			name:   "rpz",
			format: FormatAuto,
			input: "$TTL 60\n$ORIGIN rpz.local.\n@ SOA localhost. root.localhost. (\n 1 ; serial\n 3600 600 86400 60 )\n" +
				"  NS localhost.\nnx.example CNAME .\n*.nx.example CNAME . ; wildcard\nnodata.example CNAME *.\n" +
				"pass.example CNAME rpz-passthru.\ndrop.example.rpz.local. CNAME rpz-drop.\n" +
				"local.example 30 IN A 192.0.2.1\nlocal.example AAAA 2001:db8::1\nredirect.example CNAME walled.garden.\n" +
				"32.1.0.0.127.rpz-ip CNAME .\nother.zone. CNAME .\nbad.example A not-an-ip\nTXT.example TXT \"a;b\"\n",
			want: []string{"=nx.example nx", "*.nx.example nx", "=nodata.example nodata", "=pass.example @allow",
				"=drop.example", "=local.example local.example. 30 IN A 192.0.2.1",
				"=local.example local.example. 60 IN AAAA 2001:db8::1",
				"=redirect.example redirect.example. 60 IN CNAME walled.garden.",
				`=txt.example txt.example. 60 IN TXT "a;b"`},
			skipped: 3, detect: FormatRPZ,
		},
		{
			name: "rpz detected by extension", format: FormatAuto, source: "adult.rpz",
			input: "bad.example CNAME .\n", want: []string{"=bad.example nx"}, detect: FormatRPZ,
		},
		{
			name:   "rpz parentheses inside quotes and comments",
			format: FormatRPZ,
			input: "$ORIGIN rpz.local.\nsmile.example TXT \"(:\"\nafter.example CNAME .\n" +
				"frown.example TXT \"):\" ; (\n@ SOA a. b. ( 1 2 3 4 ; \")\"\n 5 )\nlater.example A 192.0.2.7\n",
			want: []string{`=smile.example smile.example. 300 IN TXT "(:"`, "=after.example nx",
				`=frown.example frown.example. 300 IN TXT "):"`, "=later.example later.example. 300 IN A 192.0.2.7"},
			detect: FormatRPZ,
		},
		{
			name:   "rpz goes on after bad records",
			format: FormatRPZ,
			input: "$TTL 1h\n$ORIGIN rpz.local.\nbad.example A not-an-ip\n  AAAA 2001:db8::2\n" +
				"multi.example MX ( ten\n mx.example. )\n$INCLUDE /etc/passwd\n$GENERATE 1-100 x$ CNAME .\n$TTL bogus\n" +
				"ok.example CNAME .\nttl.example A 192.0.2.9\n$ORIGIN sub\nx.example CNAME *.\n",
			want: []string{"=bad.example bad.example. 3600 IN AAAA 2001:db8::2", "=ok.example nx",
				"=ttl.example ttl.example. 3600 IN A 192.0.2.9", "=x.example nodata"},
			skipped: 5, detect: FormatRPZ,
		},
		{
			name: "rpz unclosed", format: FormatRPZ,
			input: "@ SOA a. b. ( 1 2 3\n", skipped: 1, detect: FormatRPZ,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.source
			if src == "" {
				src = "test.list"
			}
			got, st := parsed(t, tt.format, src, tt.input)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("entries:\n got %q\nwant %q", got, tt.want)
			}
			if st.Skipped != tt.skipped || st.Entries != len(tt.want) || st.Format != tt.detect {
				t.Errorf("stats = %+v, want skipped %d, entries %d, format %v", st, tt.skipped, len(tt.want), tt.detect)
			}
		})
	}
}

func TestParseLongLine(t *testing.T) {
	in := strings.NewReader("a.example\n" + strings.Repeat("x", maxLineBytes+1) + "\n")
	if _, err := Parse(in, FormatHosts, "long", nil, func(Entry) {}); err == nil {
		t.Fatal("a line over the limit did not fail the parse")
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": FormatAuto, "hosts": FormatHosts, "domains": FormatHosts,
		"wildcard": FormatHosts, "AdBlock": FormatAdBlock, "rpz": FormatRPZ} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseFormat("csv"); err == nil {
		t.Error("ParseFormat(csv) succeeded")
	}
}
