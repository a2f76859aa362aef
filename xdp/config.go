package xdp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/ratelimit"
)

// Mode is how the program is attached to an interface.
type Mode string

// The attach modes. ModeAuto tries native (driver) mode first, then generic.
const (
	ModeAuto    Mode = "auto"
	ModeNative  Mode = "native"
	ModeGeneric Mode = "generic"
)

// MaxPorts is how many DNS ports the program checks.
const MaxPorts = 8

// Config configures Attach; it mirrors the `xdp:` and `rate_limit:` blocks.
type Config struct {
	Interfaces []string              // interfaces to attach to; required
	Mode       Mode                  // "" means ModeAuto
	Ports      []uint16              // UDP ports to police; nil means [53]
	Limits     ratelimit.Limits      // the same limits the userspace limiter enforces
	TableSize  int                   // client prefixes tracked (LRU); 0 means ratelimit.DefaultTableSize
	Logger     *slog.Logger          // nil: slog.Default()
	Metrics    prometheus.Registerer // nil: metrics are not registered
}

// normalize validates cfg, fills in defaults and resolves the interfaces.
func (cfg Config) normalize() (Config, []*net.Interface, error) {
	var errs []error
	if cfg.Mode == "" {
		cfg.Mode = ModeAuto
	}
	if cfg.Mode != ModeAuto && cfg.Mode != ModeNative && cfg.Mode != ModeGeneric {
		errs = append(errs, fmt.Errorf("xdp.mode: %q is not auto, native or generic", cfg.Mode))
	}
	if cfg.Ports == nil {
		cfg.Ports = []uint16{53}
	}
	if err := checkPorts(cfg.Ports); err != nil {
		errs = append(errs, err)
	}
	if cfg.TableSize < 0 {
		errs = append(errs, errors.New("xdp.table_size: must be >= 0"))
	}
	if cfg.TableSize == 0 {
		cfg.TableSize = ratelimit.DefaultTableSize
	}
	var err error
	if cfg.Limits, err = cfg.Limits.Normalize(); err != nil {
		errs = append(errs, err)
	}
	if len(cfg.Interfaces) == 0 {
		errs = append(errs, errors.New("xdp.interfaces: at least one interface is needed"))
	}
	var ifaces []*net.Interface
	for i, name := range cfg.Interfaces {
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("xdp.interfaces[%d]: %q: %w", i, name, err))
			continue
		}
		ifaces = append(ifaces, ifc)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, ifaces, errors.Join(errs...)
}

func checkPorts(ports []uint16) error {
	if len(ports) == 0 || len(ports) > MaxPorts {
		return fmt.Errorf("xdp.ports: need 1 to %d ports, got %d", MaxPorts, len(ports))
	}
	for i, p := range ports {
		if p == 0 {
			return fmt.Errorf("xdp.ports[%d]: port 0", i)
		}
	}
	return nil
}
