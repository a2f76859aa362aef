package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestCheckExplainSteps: --explain NAME [--profile P] says, in the chain's
// order, which profile answers, whether a local record does (above policy),
// the allow or deny entry or the list and line that blocks the name, and the
// forward zone (the profile's own over the global one) or the default
// upstreams.
func TestCheckExplainSteps(t *testing.T) {
	t.Chdir(t.TempDir())
	writeFile(t, "c.yaml", `listen: {dns: ["127.0.0.1:8053"]}
upstreams: [udp://127.0.0.1:5300]
data_dir: data
lists: {ads: [ads.txt]}
forward_zones:
  corp.example: [udp://10.0.0.53]
  10.in-addr.arpa: [udp://10.0.0.53]
local_records: ["nas.home.example. 300 IN A 192.0.2.5"]
local_ptr: true
clients: {annas-phone: {profile: office}}
default_profile: open
profiles:
  open: {}
  office:
    block: [ads]
    allow: [ok.ads.example]
    deny: ["*.secret.corp.example"]
    forward_zones: {dev.corp.example: [udp://10.0.1.53, tcp://10.0.1.53]}
    local_records: ["printer.corp.example. IN CNAME nas.home.example."]
`)
	writeFile(t, "ads.txt", "# ads\nads.example\n||tracker.example^\nnas.home.example\n")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"www.corp.example"}, `
  profile  open (the default profile)
  local    no local record
  policy   none: the profile filters nothing
  forward  zone corp.example.: udp://10.0.0.53
`},
		{[]string{"db.dev.corp.example", "--profile", "office"}, `
  profile  office (chosen with --profile)
  local    no local record
  policy   not blocked (an answer whose CNAME points to a blocked name still is)
  forward  zone dev.corp.example.: udp://10.0.1.53, tcp://10.0.1.53
`},
		{[]string{"db.dev.corp.example"}, `
  forward  zone corp.example.: udp://10.0.0.53
`},
		{[]string{"x.secret.corp.example", "--profile", "office"}, `
  policy   blocked by the profile's deny entry "*.secret.corp.example" (EDE 17)
`},
		{[]string{"www.ads.example", "--profile", "office"}, `
  policy   blocked by list category ads (EDE 17); ads.txt line 2: ads.example
`},
		{[]string{"a.tracker.example", "--profile", "office"}, `
  policy   blocked by list category ads (EDE 17); ads.txt line 3: ||tracker.example^
`},
		{[]string{"ok.ads.example", "--profile", "office"}, `
  policy   allowed by the profile's allow entry "ok.ads.example" (no list and no CNAME target blocks it)
  forward  the default upstreams: udp://127.0.0.1:5300
`},
		// ads.txt lists nas.home.example too: the local record wins.
		{[]string{"NAS.home.example", "--profile", "office"}, `
  local    records: nas.home.example. 300 IN A 192.0.2.5; answered here, above policy: no list blocks it
`},
		{[]string{"printer.corp.example", "--profile", "office"}, `
  local    records: printer.corp.example. 3600 IN CNAME nas.home.example.; answered here, above policy: no list blocks it
`},
		{[]string{"printer.corp.example"}, `
  local    no local record
`},
		// A listed client ID picks its profile, over --profile too.
		{[]string{"www.ads.example", "--client", "Annas-Phone", "--profile", "open"}, `
  profile  office (client ID annas-phone is listed under clients)
  local    no local record
  policy   blocked by list category ads (EDE 17); ads.txt line 2: ads.example
`},
		{[]string{"www.ads.example", "--client", "bobs-pc"}, `
  profile  open (the default profile; client ID bobs-pc is not under clients, so the path's, name's or address's profile applies)
  local    no local record
  policy   none: the profile filters nothing
`},
		{[]string{"5.2.0.192.in-addr.arpa"}, `
  local    records: 5.2.0.192.in-addr.arpa. 300 IN PTR nas.home.example.; answered here, above policy: no list blocks it
`},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		args := append([]string{"check", "--config", "c.yaml", "--explain"}, tt.args...)
		if code := run(args, &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d: %s", tt.args, code, errOut.String())
		}
		_, got, _ := strings.Cut(out.String(), "explain "+tt.args[0]+":")
		if !strings.Contains(got, tt.want[1:]) {
			t.Errorf("%v: explanation\n%s\nwant it to hold\n%s", tt.args, got, tt.want)
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"check", "--config", "c.yaml", "--explain", "x.example", "--profile", "nope"}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), `explain: profile "nope" is not defined (defined: office, open)`) {
		t.Errorf("unknown profile: exit %d: %s", code, errOut.String())
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"check", "--config", "c.yaml", "--explain", "x.example", "--client", "-bad-"}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "explain: --client: ") {
		t.Errorf("malformed client ID: exit %d: %s", code, errOut.String())
	}
}
