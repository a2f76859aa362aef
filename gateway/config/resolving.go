package config

import (
	"fmt"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/resolver"
)

// Resolving is split DNS and local data, at the top level and in each
// profile (a profile's are added to the top level's).
type Resolving struct {
	// ForwardZones sends the names of each zone (and below) to its own
	// upstream group; the longest zone wins.
	ForwardZones map[string][]string `yaml:"forward_zones"`
	// LocalRecords are records in RFC 1035 presentation format, answered
	// above policy.
	LocalRecords []string `yaml:"local_records"`
	// LocalZoneFiles are zone files (relative to the configuration file),
	// answered like LocalRecords, authoritatively for their zones.
	LocalZoneFiles []string `yaml:"local_zone_files"`
	// LocalPTR also answers the PTR queries for the addresses of the local
	// A and AAAA records.
	LocalPTR bool `yaml:"local_ptr"`
}

// resolvingOf returns the top level's Resolving (profile "") or a
// profile's, with the key its settings are written under.
func (c *Config) resolvingOf(profile string) (Resolving, string) {
	if profile == "" {
		return c.Resolving, ""
	}
	return c.Profiles[profile].Resolving, "profiles." + profile + "."
}

// ForwardZoneNames returns the forward zones of the top level (profile "")
// or of a profile, sorted.
func (c *Config) ForwardZoneNames(profile string) []string {
	r, _ := c.resolvingOf(profile)
	return sortedKeys(r.ForwardZones)
}

// ForwardZone returns the upstream URLs of a zone ForwardZoneNames named.
func (c *Config) ForwardZone(profile, zone string) []string {
	r, _ := c.resolvingOf(profile)
	return r.ForwardZones[zone]
}

// LocalData parses the local records and zone files of the top level
// (profile "") or of a profile; nil when there are none. Zone files are
// read now: the gateway calls it again on SIGHUP.
func (c *Config) LocalData(profile string) (*resolver.LocalData, error) {
	r, base := c.resolvingOf(profile)
	if len(r.LocalRecords)+len(r.LocalZoneFiles) == 0 {
		return nil, nil
	}
	var errs Errors
	var rrs []dns.RR
	for i, line := range r.LocalRecords {
		rr, err := resolver.ParseLocalRecord(line)
		if err != nil {
			errs = append(errs, c.errAt(fmt.Sprintf("%slocal_records[%d]", base, i), "%q: %v", line, err))
			continue
		}
		rrs = append(rrs, rr)
	}
	for i, file := range r.LocalZoneFiles {
		zone, err := resolver.ParseLocalZoneFile(c.Path(file))
		if err != nil {
			errs = append(errs, c.errAt(fmt.Sprintf("%slocal_zone_files[%d]", base, i), "%v", err))
			continue
		}
		rrs = append(rrs, zone...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	d, err := resolver.NewLocalData(rrs, r.LocalPTR)
	if err != nil {
		key := base + "local_records"
		if len(r.LocalRecords) == 0 {
			key = base + "local_zone_files"
		}
		return nil, Errors{c.errAt(key, "%v", err)}
	}
	return d, nil
}

// validateResolving checks the forward zones and local data of the top
// level and of every profile.
func (c *Config) validateResolving() Errors {
	var errs Errors
	for _, profile := range append([]string{""}, c.ProfileNames()...) {
		r, base := c.resolvingOf(profile)
		seen := map[string]string{}
		for _, zone := range sortedKeys(r.ForwardZones) {
			key := base + "forward_zones." + zone
			urls := r.ForwardZones[zone]
			if len(urls) == 0 {
				errs = append(errs, c.errAt(key, "at least one upstream is required"))
			}
			for i, u := range urls {
				if err := checkUpstream(u); err != nil {
					errs = append(errs, c.errAt(fmt.Sprintf("%s[%d]", key, i), "%v", err))
				}
			}
			if _, err := resolver.NewRoute(zone, noUpstream{}); err != nil {
				errs = append(errs, c.errAt(key, "%v", err))
				continue
			}
			norm := dns.CanonicalName(zone)
			if other, dup := seen[norm]; dup {
				errs = append(errs, c.errAt(key, "the same zone as %q", other))
			}
			seen[norm] = zone
		}
		if r.LocalPTR && len(r.LocalRecords)+len(r.LocalZoneFiles) == 0 {
			errs = append(errs, c.errAt(base+"local_ptr", "there are no local_records or local_zone_files to answer PTR queries for"))
		}
		if _, err := c.LocalData(profile); err != nil {
			errs = append(errs, err.(Errors)...)
		}
	}
	return errs
}

// noUpstream stands in for a zone's group while its name is checked.
type noUpstream struct{ resolver.Upstream }
