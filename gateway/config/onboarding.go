package config

import (
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// Onboarding configures the setup page the DoH listeners serve at / and
// /setup/<profile> (package onboarding). `onboarding: false` is short for
// `onboarding: {enabled: false}`.
type Onboarding struct {
	Enabled     *bool    `yaml:"enabled"`      // default true (with a DoH listener)
	ServiceName string   `yaml:"service_name"` // the page's title; default "dnsward"
	Contact     string   `yaml:"contact"`      // an e-mail address or an https:// or mailto: URL
	PrivacyURL  string   `yaml:"privacy_url"`  // an https:// URL
	Hide        []string `yaml:"hide"`         // profiles the page leaves out
	// CheckDomain is the zone of the "am I protected?" names: dnsward
	// answers every name under it itself (NXDOMAIN) and notes, in memory
	// for a few minutes, the profile and transport a page's random name
	// arrived through.
	CheckDomain  string `yaml:"check_domain"`
	SignProfiles bool   `yaml:"sign_profiles"` // sign .mobileconfig files with the server's certificate
}

// setBool takes `onboarding: true|false`.
func (o *Onboarding) setBool(b bool) { o.Enabled = &b }

// DefaultServiceName is onboarding.service_name when it is not set.
const DefaultServiceName = "dnsward"

// OnboardingOn reports whether the setup page is served: on unless
// onboarding.enabled is false, and only where a DoH listener serves it.
func (c *Config) OnboardingOn() bool {
	return (c.Onboarding.Enabled == nil || *c.Onboarding.Enabled) && len(c.Listen.DoH)+len(c.Listen.DoHPlain) > 0
}

// ShownProfiles are the profiles the setup page lists, sorted: every one
// not in onboarding.hide.
func (c *Config) ShownProfiles() []string {
	var out []string
	for _, name := range c.ProfileNames() {
		if !slices.Contains(c.Onboarding.Hide, name) {
			out = append(out, name)
		}
	}
	return out
}

func (c *Config) validateOnboarding() Errors {
	var errs Errors
	add := func(e *Error) { errs = append(errs, e) }
	o := c.Onboarding
	if o.Enabled != nil && !*o.Enabled {
		return nil
	}
	if o.Enabled != nil && len(c.Listen.DoH)+len(c.Listen.DoHPlain) == 0 {
		add(c.errAt("onboarding.enabled", "the setup page is served by the DoH listeners: set listen.doh or listen.doh_plain"))
	}
	if n := len([]rune(o.ServiceName)); n > 64 || strings.IndexFunc(o.ServiceName, unicode.IsControl) >= 0 || c.lines["onboarding.service_name"] != 0 && strings.TrimSpace(o.ServiceName) == "" {
		add(c.errAt("onboarding.service_name", "must be 1 to 64 printable characters, got %q", o.ServiceName))
	}
	if o.Contact != "" && !validContact(o.Contact) {
		add(c.errAt("onboarding.contact", "expected an e-mail address or an https:// or mailto: URL, got %q", o.Contact))
	}
	if o.PrivacyURL != "" && !httpsURL(o.PrivacyURL) {
		add(c.errAt("onboarding.privacy_url", "expected an https:// URL, got %q", o.PrivacyURL))
	}
	for i, name := range o.Hide {
		if _, ok := c.Profiles[name]; !ok {
			add(c.errAt(fmt.Sprintf("onboarding.hide[%d]", i), "profile %q is not defined (defined: %s)", name, strings.Join(c.ProfileNames(), ", ")))
		}
	}
	if len(c.ShownProfiles()) == 0 {
		add(c.errAt("onboarding.hide", "hides every profile: set onboarding: false to turn the page off"))
	}
	if d := o.CheckDomain; d != "" {
		errs = append(errs, c.checkDomainErrors(d)...)
	}
	if o.SignProfiles && len(c.Listen.DoH)+len(c.Listen.DoT)+len(c.Listen.DoQ) == 0 {
		add(c.errAt("onboarding.sign_profiles", "needs a certificate to sign with: set listen.doh, dot or doq"))
	}
	return errs
}

// checkDomainErrors: the check domain must be a host name of two labels or
// more that takes no name dnsward serves (server_name, a profile host) or
// answers specially.
func (c *Config) checkDomainErrors(d string) Errors {
	d = strings.TrimSuffix(strings.ToLower(d), ".")
	bad := func(format string, args ...any) Errors {
		return Errors{c.errAt("onboarding.check_domain", format, args...)}
	}
	if !validHostname(d) || !strings.Contains(d, ".") {
		return bad("expected a host name of two labels or more, such as check.dns.example.org, got %q", d)
	}
	for _, special := range []string{"resolver.arpa", "localhost", "invalid", "arpa"} {
		if d == special || strings.HasSuffix(d, "."+special) {
			return bad("%q is answered specially; pick a name under a domain you control", d)
		}
	}
	names := append([]string{c.ServerName}, profileHostsOf(c)...)
	for _, n := range names {
		n = strings.TrimPrefix(strings.TrimSuffix(strings.ToLower(n), "."), "*.")
		if n == d || strings.HasSuffix(n, "."+d) {
			return bad("%q would take %q, a name dnsward serves; use a zone of its own", d, n)
		}
	}
	return nil
}

func profileHostsOf(c *Config) []string {
	var out []string
	for _, name := range c.ProfileNames() {
		out = append(out, c.Profiles[name].Hosts...)
	}
	return out
}

func validContact(s string) bool {
	if a, err := mail.ParseAddress(s); err == nil && a.Name == "" && a.Address == s {
		return true
	}
	if strings.HasPrefix(s, "mailto:") {
		_, err := mail.ParseAddress(strings.TrimPrefix(s, "mailto:"))
		return err == nil
	}
	return httpsURL(s)
}

func httpsURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil
}
