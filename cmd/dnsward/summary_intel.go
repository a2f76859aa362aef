package main

import (
	"strings"

	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/resolver/filter"
)

// threatIntelRows summarizes threat_intel; an API key is only ever named
// by where it is read from.
func threatIntelRows(r rows, cfg *config.Config) {
	t := cfg.ThreatIntel
	if t == nil {
		r.add("threat_intel", "off")
		return
	}
	for _, m := range t.MISP {
		const key = "threat_intel.misp" // the keys stay narrower than tls.check_interval: the table keeps its width
		parts := []string{m.Name + ": category " + m.Category}
		if m.Feed != "" {
			r.add(key, "%s: feed %s", m.Name, filter.LocationName(m.Feed))
		} else {
			from := "file " + m.APIKeyFile
			if m.APIKeyEnv != "" {
				from = "environment variable " + m.APIKeyEnv
			}
			r.add(key, "%s: REST API %s, key from %s", m.Name, filter.LocationName(m.URL), from)
		}
		if m.CAFile != "" {
			parts = append(parts, "ca_file "+m.CAFile)
		}
		if len(m.Tags) > 0 {
			parts = append(parts, "tags "+strings.Join(m.Tags, ", "))
		}
		if m.MaxAge > 0 {
			parts = append(parts, "max_age "+m.MaxAge.String())
		}
		if m.URL != "" {
			parts = append(parts, "sightings "+onOff(m.Sightings))
		}
		r.add(key, "%s", strings.Join(parts, "; "))
	}
	r.add("threat_intel", "warninglists %s", list(t.Warninglists))
	r.add("threat_intel", "refresh %s; sightings from source %s, every %s at most once per attribute", t.Refresh.String(), t.SightingSource, t.SightingInterval.String())
}
