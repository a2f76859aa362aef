package config

import (
	"slices"
	"testing"
)

// TestClientsConfig: clients and unknown_clients map to the resolver's
// table, and the server name, a wildcard one without its "*.", is a name
// whose first label is a client ID.
func TestClientsConfig(t *testing.T) {
	const base = "listen: {dns: [\"127.0.0.1:8053\"]}\nupstreams: [udp://127.0.0.1:5300]\nprofiles: {open: {}, child: {}}\ndefault_profile: open\n"
	for _, tt := range []struct {
		yaml   string
		refuse bool
		hosts  []string
	}{
		{base, false, []string{"localhost"}},
		{base + "server_name: dns.example\nunknown_clients: refuse\nclients: {annas-phone: {profile: child}}\n", true, []string{"dns.example"}},
		{base + "server_name: \"*.dns.example\"\ntls: {mode: acme, acme: {challenges: [dns-01], dns: {provider: rfc2136, server: \"127.0.0.1:53\", tsig_key: k, tsig_secret: aGVsbG8=}}}\n",
			false, []string{"dns.example"}},
	} {
		cfg, err := Parse("c.yaml", []byte(tt.yaml))
		if err != nil {
			t.Fatal(err)
		}
		rc := cfg.ClientsConfig()
		if rc.RefuseUnknown != tt.refuse || !slices.Equal(rc.Hosts, tt.hosts) || len(rc.Profiles) != len(cfg.Clients) {
			t.Errorf("%s: got %+v", tt.yaml, rc)
		}
		for id, c := range cfg.Clients {
			if rc.Profiles[id] != c.Profile {
				t.Errorf("client %s: profile %q, want %q", id, rc.Profiles[id], c.Profile)
			}
		}
	}
}
