package config

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text to the configuration parser: it must never
// panic, and every error it returns names the file.
func FuzzParse(f *testing.F) {
	f.Add("listen:\n  dns: [\"127.0.0.1:8053\"]\nupstreams: [udp://127.0.0.1:5300]\n")
	f.Add("listen: {dns: [\"127.0.0.1:53\"]}\nupstreams: [x]\nprofiles:\n  a: {paths: [/a], addrs: [::1]}\ndefault_profile: a\n")
	f.Add("rate_limit: {qps: 1, burst: 2, allow: [10.0.0.0/8]}\nxdp: {interfaces: [lo]}\n")
	f.Add("cache: &a {size: 1}\nlog: *a\n")
	f.Add("listen: {doh: [\"127.0.0.1:8443\"]}\nupstreams: [udp://127.0.0.1:53]\nonboarding: false\n")
	f.Add("listen: {doh: [\"127.0.0.1:8443\"]}\nupstreams: [udp://127.0.0.1:53]\nonboarding: {hide: [default], check_domain: c.example, contact: a@b.example}\n")
	f.Fuzz(func(t *testing.T, text string) {
		_, err := Parse("f.yaml", []byte(text))
		if err != nil && !strings.HasPrefix(err.Error(), "f.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}
