package frontend

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/dnsward/dnsward/resolver"
)

// Common holds the Config fields DoT and DoQ both require.
type Common struct {
	Addrs    []string
	TLS      *tls.Config
	Handler  resolver.Handler
	Profiles *resolver.Profiles
}

// Check reports the first missing field, its error prefixed with the
// transport's name ("dot", "doq").
func (c Common) Check(transport string) error {
	switch {
	case len(c.Addrs) == 0:
		return errors.New(transport + ": no listen addresses")
	case c.TLS == nil:
		return errors.New(transport + ": no TLS config")
	case c.TLS.Certificates == nil && c.TLS.GetCertificate == nil && c.TLS.GetConfigForClient == nil:
		return errors.New(transport + ": TLS config has no certificate")
	case c.Handler == nil:
		return errors.New(transport + ": no handler")
	case c.Profiles == nil:
		return errors.New(transport + ": no profiles")
	}
	return nil
}

// Timeout is a Config duration field and the default a zero value takes.
type Timeout struct {
	Name    string         // the field's name, for errors
	Value   *time.Duration // the field
	Default time.Duration
}

// SetTimeouts fills zero timeouts with their defaults and rejects negative
// ones, the error prefixed with the transport's name.
func SetTimeouts(transport string, ts ...Timeout) error {
	for _, d := range ts {
		if *d.Value < 0 {
			return fmt.Errorf("%s: negative %s", transport, d.Name)
		}
		if *d.Value == 0 {
			*d.Value = d.Default
		}
	}
	return nil
}
