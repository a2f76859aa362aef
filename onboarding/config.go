// Package onboarding serves the setup page: for each profile, what it
// blocks and how to use it from a browser, Android, iOS and macOS (a
// .mobileconfig), Windows 11, Linux and a router, with QR codes; and the
// "am I protected?" check, which tells a visitor whether their DNS reaches
// this gateway and through which profile. The gateway mounts it on the DoH
// listeners for every path that is not a DoH endpoint.
package onboarding

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
)

// Config configures the setup page.
type Config struct {
	ServiceName string    // shown as the page's title; required
	Contact     string    // an e-mail address or URL; "" for none
	PrivacyURL  string    // the privacy policy; "" for none
	Profiles    []Profile // in the order shown; hidden profiles are left out
	DoTPort     uint16    // the DoT listener's port; 0: no DoT
	DNSPort     uint16    // the plain-DNS listener's port; 0: no plain DNS
	// CheckDomain is the zone of the "am I protected?" names ("" for no
	// check); the resolver answers it (resolver.LocalConfig.CheckZone) and
	// tells Checks.
	CheckDomain string
	Checks      *Checks // required with CheckDomain
	// Sign returns the certificate and key that sign .mobileconfig files
	// (CMS); nil: served unsigned.
	Sign   func() (*tls.Certificate, error)
	Text   *Text        // nil: English
	Logger *slog.Logger // nil: slog.Default()
}

// Profile is what the page says about one profile.
type Profile struct {
	Name       string
	Blocks     []string // the list categories it blocks
	SafeSearch bool
	// DoHHost and DoHPath make its DoH URL (the port is the one the page was
	// reached on); DoHHost "" means no DoH.
	DoHHost, DoHPath string
	// DoTHost is the TLS name that selects it over DoT (Android Private
	// DNS, systemd-resolved); "" when none does.
	DoTHost string
	// DoHAddrs and DoTAddrs are addresses where its DoH URL and its TLS
	// name reach it (for Windows, systemd-resolved and ServerAddresses);
	// PlainAddrs where plain DNS does. Empty when none is known.
	DoHAddrs, DoTAddrs, PlainAddrs []netip.Addr
}

func (c Config) withDefaults() (Config, error) {
	if strings.TrimSpace(c.ServiceName) == "" {
		return c, errors.New("onboarding: ServiceName is required")
	}
	if c.CheckDomain != "" && c.Checks == nil {
		return c, errors.New("onboarding: CheckDomain needs Checks")
	}
	seen := map[string]bool{}
	for _, p := range c.Profiles {
		if p.Name == "" || seen[p.Name] {
			return c, fmt.Errorf("onboarding: profile name %q empty or repeated", p.Name)
		}
		seen[p.Name] = true
	}
	c.CheckDomain = strings.TrimSuffix(strings.ToLower(c.CheckDomain), ".")
	if c.Text == nil {
		c.Text = &English
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
