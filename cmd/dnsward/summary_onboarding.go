package main

import (
	"strings"

	"github.com/dnsward/dnsward/gateway/config"
)

// onboardingRows says whether the setup page is served, and what it shows.
func onboardingRows(r rows, cfg *config.Config) {
	o := cfg.Onboarding
	if !cfg.OnboardingOn() {
		r.add("onboarding", "off")
		return
	}
	r.add("onboarding", "setup page at / and /setup/<profile> on the DoH listeners, service %q; shows %s", o.ServiceName, strings.Join(cfg.ShownProfiles(), ", "))
	check := "off"
	if o.CheckDomain != "" {
		check = "names under " + o.CheckDomain + " answered by dnsward"
	}
	signed := "unsigned"
	if o.SignProfiles {
		signed = "signed with the server's certificate"
	}
	r.add("onboarding", "check %s; .mobileconfig %s; contact %s; privacy_url %s", check, signed, orNone(o.Contact), orNone(o.PrivacyURL))
}
