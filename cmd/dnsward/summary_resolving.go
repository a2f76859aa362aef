package main

import (
	"fmt"
	"strings"

	"github.com/dnsward/dnsward/gateway/config"
)

// resolvingRows summarizes the top level's split DNS and local data.
func resolvingRows(r rows, cfg *config.Config) {
	zones := cfg.ForwardZoneNames("")
	if len(zones) == 0 {
		r.add("forward_zones", "none")
	}
	for _, zone := range zones {
		r.add("forward_zones", "%s\t%s", zone, strings.Join(cfg.ForwardZone("", zone), ", "))
	}
	if local := localParts(cfg, cfg.Resolving, ""); len(local) > 0 {
		r.add("local_records", "%s", strings.Join(local, "; "))
	} else {
		r.add("local_records", "none")
	}
}

// profileResolving is what a profile adds to the top level's split DNS and
// local data, as parts of its summary line.
func profileResolving(cfg *config.Config, profile string) []string {
	var parts []string
	for _, zone := range cfg.ForwardZoneNames(profile) {
		parts = append(parts, "forward_zones "+zone+" to "+strings.Join(cfg.ForwardZone(profile, zone), ", "))
	}
	return append(parts, localParts(cfg, cfg.Profiles[profile].Resolving, "local_records ")...)
}

// localParts describes local records and zone files, the first part after
// label; none without them.
func localParts(cfg *config.Config, res config.Resolving, label string) []string {
	if len(res.LocalRecords)+len(res.LocalZoneFiles) == 0 {
		return nil
	}
	parts := []string{fmt.Sprintf("%s%d inline", label, len(res.LocalRecords))}
	for _, f := range res.LocalZoneFiles {
		parts = append(parts, "local_zone_files "+cfg.Path(f))
	}
	return append(parts, "local_ptr "+onOff(res.LocalPTR))
}
