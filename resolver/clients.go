package resolver

import (
	"errors"
	"fmt"
	"strings"
)

// Client identities: a client names itself with a label of its own, in the
// DoH path (/child/annas-phone, /dns-query/annas-phone) or as the first
// label of the TLS server name (annas-phone.child.dns.example). The label
// is the user's own, not an address: it travels on Request.ClientID into
// the query log, the statistics and, when an operator asks, metrics.

// The errors Identify returns; transports map them to their own refusal
// (DoH 400 and 403, a refused TLS handshake on DoT and DoQ).
var (
	ErrClientID      = errors.New("invalid client ID")
	ErrUnknownClient = errors.New("unknown client ID")
)

// reservedIDs are the labels the DoH paths already use after a profile path
// ("/ads/dns-query", "/ads/resolve"): never client IDs.
var reservedIDs = map[string]bool{"dns-query": true, "resolve": true}

// ParseClientID returns the canonical form of a client ID: one DNS label
// (letters, digits and hyphens, 1-63 characters, no hyphen first or last),
// in lower case, since DNS names compare case-insensitively. The reserved
// DoH path labels "dns-query" and "resolve" are not IDs.
func ParseClientID(s string) (string, error) {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return "", ErrClientID
	}
	lower := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
		case c >= 'A' && c <= 'Z':
			lower = false
		default:
			return "", ErrClientID
		}
	}
	if !lower {
		s = strings.ToLower(s)
	}
	if reservedIDs[s] {
		return "", ErrClientID
	}
	return s, nil
}

// ClientsConfig maps client IDs to profiles (the configuration's clients
// and unknown_clients).
type ClientsConfig struct {
	// Profiles maps a client ID to the profile it gets, whatever profile
	// its path or server name would give. IDs must be canonical
	// (ParseClientID).
	Profiles map[string]string
	// RefuseUnknown refuses IDs Profiles does not list; otherwise such a
	// client gets the profile its path, server name or address selects.
	RefuseUnknown bool
	// Hosts are names, besides the profiles' hosts, under which the first
	// label of a server name is a client ID: the server name of the
	// default profile ("annas-phone.dns.example").
	Hosts []string
}

// clientTable is one ClientsConfig, resolved against the profiles.
type clientTable struct {
	ids    map[string]*Profile
	refuse bool
	hosts  map[string]bool
}

// SetClients validates cfg against r's profiles and makes it the table
// every later Identify consults (SIGHUP swaps it whole; a connection keeps
// the identity it was given). On error the previous table stays.
func (r *Profiles) SetClients(cfg ClientsConfig) error {
	t := &clientTable{ids: map[string]*Profile{}, refuse: cfg.RefuseUnknown, hosts: map[string]bool{}}
	for id, name := range cfg.Profiles {
		if canon, err := ParseClientID(id); err != nil || canon != id {
			return fmt.Errorf("clients: %q is not a client ID (a lower-case DNS label of 1-63 letters, digits and hyphens, not dns-query or resolve)", id)
		}
		p, ok := r.byName[name]
		if !ok {
			return fmt.Errorf("clients: %s: profile %q is not defined", id, name)
		}
		t.ids[id] = p
	}
	for _, h := range cfg.Hosts {
		t.hosts[normalizeHost(h)] = true
	}
	r.clients.Store(t)
	return nil
}

// Client is who sent a query: the profile it gets and the ID it gave.
type Client struct {
	Profile *Profile
	ID      string // canonical; "" when the client gave none
	Listed  bool   // ID is one of the configured clients
}

// Identify picks the profile and client ID of a connection or request.
// The profile is in.Profile when the transport chose one (a DoH profile
// path), else the server name's (with or without a client-ID label), else
// the local address's, else the default. The ID is in.ClientID, else the
// first label of a server name whose rest is a profile host or one of
// ClientsConfig.Hosts. A listed ID overrides the profile; an unlisted one
// keeps it, or is refused (ErrUnknownClient) with RefuseUnknown; a
// malformed one is ErrClientID.
func (r *Profiles) Identify(in Ingress) (Client, error) {
	t := r.clients.Load()
	hostProfile, nameID := r.fromServerName(t, in.ServerName)
	base := in.Profile
	if base == nil {
		base = hostProfile
	}
	if base == nil {
		base = r.Select(Ingress{Local: in.Local})
	}
	raw := in.ClientID
	if raw == "" {
		raw = nameID
	}
	if raw == "" {
		return Client{Profile: base}, nil
	}
	id, err := ParseClientID(raw)
	if err != nil {
		return Client{}, err
	}
	if t != nil {
		if p, ok := t.ids[id]; ok {
			return Client{Profile: p, ID: id, Listed: true}, nil
		}
		if t.refuse {
			return Client{}, ErrUnknownClient
		}
	}
	return Client{Profile: base, ID: id}, nil
}

// fromServerName returns the profile a server name selects (nil: none) and
// the client-ID label it carries ("": none).
func (r *Profiles) fromServerName(t *clientTable, name string) (*Profile, string) {
	if name == "" {
		return nil, ""
	}
	if p, ok := r.ByHost(name); ok {
		return p, ""
	}
	label, rest, ok := strings.Cut(name, ".")
	if !ok {
		return nil, ""
	}
	if p, ok := r.ByHost(rest); ok {
		return p, label
	}
	if t != nil && t.hosts[normalizeHost(rest)] {
		return nil, label
	}
	return nil, ""
}
