package gateway

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"time"

	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/resolver/filter"
)

// ThreatIntel turns threat_intel into the filter's MISP configuration:
// API keys read, each source's HTTP client trusting its ca_file.
func ThreatIntel(cfg *config.Config) (filter.ThreatIntelConfig, error) {
	t := cfg.ThreatIntel
	if t == nil {
		return filter.ThreatIntelConfig{}, nil
	}
	out := filter.ThreatIntelConfig{
		Warninglists: t.Warninglists, Refresh: t.Refresh.Std(),
		SightingSource: t.SightingSource, SightingInterval: t.SightingInterval.Std(),
	}
	for _, m := range t.MISP {
		key, err := m.APIKey()
		if err != nil {
			return out, fmt.Errorf("gateway: MISP source %s: api key: %w", m.Name, err)
		}
		pool, err := m.CAPool()
		if err != nil {
			return out, fmt.Errorf("gateway: MISP source %s: %w", m.Name, err)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		out.MISP = append(out.MISP, filter.MISPSource{
			Name: m.Name, Feed: m.Feed, URL: m.URL, APIKey: key, Category: m.Category, Tags: m.Tags,
			MaxAge: m.MaxAge.Std(), Sightings: m.Sightings,
			Client: &http.Client{Timeout: 2 * time.Minute, Transport: tr},
		})
	}
	return out, nil
}
