package config

import (
	"strings"

	"github.com/dnsward/dnsward/resolver"
)

// Client is one configured client ID (clients.<id>).
type Client struct {
	// Profile is the profile the client gets, whatever its DoH path or TLS
	// name selects.
	Profile string `yaml:"profile"`
}

// Metrics tunes what /metrics exposes.
type Metrics struct {
	// ClientIDs counts answers per configured client ID
	// (dnsward_client_queries_total); off by default, since each ID is a
	// series.
	ClientIDs bool `yaml:"client_ids"`
}

// The values of unknown_clients.
const (
	UnknownClientsAccept = "accept"
	UnknownClientsRefuse = "refuse"
)

func (c *Config) validateClients() Errors {
	var errs Errors
	for _, id := range sortedKeys(c.Clients) {
		key := "clients." + id
		if canon, err := resolver.ParseClientID(id); err != nil || canon != id {
			errs = append(errs, c.errAt(key, "%q is not a client ID: a lower-case DNS label of 1-63 letters, digits and hyphens (not dns-query or resolve)", id))
		}
		p := c.Clients[id].Profile
		switch _, ok := c.Profiles[p]; {
		case p == "":
			errs = append(errs, c.errAt(key, "no profile given"))
		case !ok:
			errs = append(errs, c.errAt(key+".profile", "profile %q is not defined (defined: %s)", p, strings.Join(c.ProfileNames(), ", ")))
		}
	}
	switch c.UnknownClients {
	case UnknownClientsAccept, UnknownClientsRefuse:
	default:
		errs = append(errs, c.errAt("unknown_clients", "must be accept or refuse, got %q", c.UnknownClients))
	}
	return errs
}

// ClientsConfig maps clients and unknown_clients for the resolver. The
// server name carries client IDs too: annas-phone.<server_name> (or, for a
// wildcard server name "*.dns.example", annas-phone.dns.example) gets the
// profile the server name would.
func (c *Config) ClientsConfig() resolver.ClientsConfig {
	rc := resolver.ClientsConfig{Profiles: map[string]string{}, RefuseUnknown: c.UnknownClients == UnknownClientsRefuse}
	for id, cl := range c.Clients {
		rc.Profiles[id] = cl.Profile
	}
	rc.Hosts = []string{strings.TrimPrefix(c.ServerName, "*.")}
	return rc
}
