package config

import (
	"strings"
	"testing"
)

const onboardingBase = "listen:\n  doh: [\"127.0.0.1:8443\"]\nupstreams: [udp://127.0.0.1:5300]\nserver_name: dns.example.org\n" +
	"profiles:\n  open: {}\n  child: {hosts: [child.dns.example.org]}\ndefault_profile: open\n"

func TestOnboardingErrors(t *testing.T) {
	const base = onboardingBase + "onboarding:\n"
	tests := []struct{ name, yaml, want string }{
		{"not a bool", onboardingBase + "onboarding: maybe\n",
			`c.yaml:9: onboarding: expected true, false or a mapping of keys, got "maybe"`},
		{"unknown key", base + "  title: x\n", "c.yaml:10: onboarding.title: unknown key (known keys: check_domain, contact, enabled, hide, privacy_url, service_name, sign_profiles)"},
		{"blank service name", base + "  service_name: \"  \"\n", `c.yaml:10: onboarding.service_name: must be 1 to 64 printable characters, got "  "`},
		{"long service name", base + "  service_name: " + strings.Repeat("x", 65) + "\n", "c.yaml:10: onboarding.service_name: must be 1 to 64 printable characters"},
		{"control character", base + "  service_name: \"a\\nb\"\n", "c.yaml:10: onboarding.service_name: must be 1 to 64 printable characters"},
		{"contact", base + "  contact: \"javascript:alert(1)\"\n", `c.yaml:10: onboarding.contact: expected an e-mail address or an https:// or mailto: URL, got "javascript:alert(1)"`},
		{"privacy url", base + "  privacy_url: http://example.org/p\n", `c.yaml:10: onboarding.privacy_url: expected an https:// URL, got "http://example.org/p"`},
		{"hide unknown", base + "  hide: [kids]\n", `c.yaml:10: onboarding.hide[0]: profile "kids" is not defined (defined: child, open)`},
		{"hide all", base + "  hide: [child, open]\n", "c.yaml:10: onboarding.hide: hides every profile: set onboarding: false to turn the page off"},
		{"check domain one label", base + "  check_domain: check\n", `c.yaml:10: onboarding.check_domain: expected a host name of two labels or more`},
		{"check domain bad", base + "  check_domain: \"a b.example\"\n", `c.yaml:10: onboarding.check_domain: expected a host name`},
		{"check domain special", base + "  check_domain: x.resolver.arpa\n", `onboarding.check_domain: "x.resolver.arpa" is answered specially`},
		{"check domain takes server_name", base + "  check_domain: dns.example.org\n",
			`c.yaml:10: onboarding.check_domain: "dns.example.org" would take "dns.example.org", a name dnsward serves; use a zone of its own`},
		{"check domain takes a host", base + "  check_domain: example.org\n", `would take "dns.example.org"`},
		{"enabled without doh", "listen: {dns: [\"127.0.0.1:53\"]}\nupstreams: [udp://127.0.0.1:5300]\nonboarding: {enabled: true}\n",
			"c.yaml:3: onboarding.enabled: the setup page is served by the DoH listeners: set listen.doh or listen.doh_plain"},
		{"sign without certificate", "listen: {doh_plain: [\"127.0.0.1:8080\"]}\nupstreams: [udp://127.0.0.1:5300]\nonboarding: {sign_profiles: true}\n",
			"c.yaml:3: onboarding.sign_profiles: needs a certificate to sign with: set listen.doh, dot or doq"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain\n  %s", err, tt.want)
			}
		})
	}
}

// TestOnboardingOn: on by default with a DoH listener, off with
// `onboarding: false` or enabled: false, and off without a DoH listener.
func TestOnboardingOn(t *testing.T) {
	tests := []struct {
		name, yaml string
		on         bool
		shown      string
	}{
		{"default", onboardingBase, true, "child, open"},
		{"false", onboardingBase + "onboarding: false\n", false, "child, open"},
		{"enabled false", onboardingBase + "onboarding: {enabled: false, check_domain: bad}\n", false, "child, open"},
		{"true", onboardingBase + "onboarding: true\n", true, "child, open"},
		{"hidden", onboardingBase + "onboarding: {hide: [child], contact: ops@example.org, privacy_url: \"https://example.org/p\", check_domain: check.example.net}\n", true, "open"},
		{"no doh", "listen: {dns: [\"127.0.0.1:53\"]}\nupstreams: [udp://127.0.0.1:5300]\n", false, "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("c.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.OnboardingOn() != tt.on || strings.Join(cfg.ShownProfiles(), ", ") != tt.shown {
				t.Fatalf("on %v shown %v, want %v %s", cfg.OnboardingOn(), cfg.ShownProfiles(), tt.on, tt.shown)
			}
			if cfg.Onboarding.ServiceName != DefaultServiceName {
				t.Fatalf("service name %q", cfg.Onboarding.ServiceName)
			}
		})
	}
}
