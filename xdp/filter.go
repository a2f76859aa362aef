package xdp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/ratelimit"
)

// Filter is the loaded program attached to one or more interfaces.
type Filter struct {
	objs     *bpfObjects
	ports    []uint16
	log      *slog.Logger
	reg      prometheus.Registerer
	coll     prometheus.Collector
	mu       sync.Mutex // guards limits, links and closing
	limits   ratelimit.Limits
	links    []link.Link
	attached []Attachment
}

// Attachment is one interface the filter is attached to.
type Attachment struct {
	Interface string
	Mode      Mode // ModeNative or ModeGeneric
}

// Attach loads the program, writes cfg's limits and attaches it to every
// interface in cfg. Links are not pinned: they go away with Close or the
// process. When the kernel refuses (no CAP_BPF/CAP_NET_ADMIN, verifier,
// unsupported driver, another program attached) the error carries the
// kernel's reason in one line, so the caller can log it and fall back to
// package ratelimit. Attach acts in the calling thread's network namespace.
func Attach(cfg Config) (*Filter, error) {
	cfg, ifaces, err := cfg.normalize()
	if err != nil {
		return nil, fmt.Errorf("xdp: %w", err)
	}
	f, err := open(cfg)
	if err != nil {
		return nil, err
	}
	for _, ifc := range ifaces {
		if err := f.attach(ifc, cfg.Mode); err != nil {
			f.Close()
			return nil, fmt.Errorf("xdp: %w", err)
		}
	}
	if cfg.Metrics != nil {
		f.reg, f.coll = cfg.Metrics, collector{f}
		if err := f.reg.Register(f.coll); err != nil {
			f.reg = nil
			f.Close()
			return nil, fmt.Errorf("xdp: register metrics: %w", err)
		}
	}
	return f, nil
}

// open loads and configures the program without attaching it.
func open(cfg Config) (*Filter, error) {
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("xdp: %w", err)
	}
	objs, err := load(cfg.TableSize)
	if err != nil {
		return nil, fmt.Errorf("xdp: load program: %w", err)
	}
	if err := configure(objs, cfg.Ports, cfg.Limits); err != nil {
		objs.Close()
		return nil, fmt.Errorf("xdp: %w", err)
	}
	return &Filter{objs: objs, ports: cfg.Ports, log: cfg.Logger, limits: cfg.Limits}, nil
}

// attach links the program to ifc: native first in auto mode, then generic.
func (f *Filter) attach(ifc *net.Interface, mode Mode) error {
	try := []Mode{mode}
	if mode == ModeAuto {
		try = []Mode{ModeNative, ModeGeneric}
	}
	var errs []error
	for _, m := range try {
		flags := link.XDPDriverMode
		if m == ModeGeneric {
			flags = link.XDPGenericMode
		}
		l, err := link.AttachXDP(link.XDPOptions{Program: f.objs.DnswardXdp, Interface: ifc.Index, Flags: flags})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s mode: %w", m, err))
			continue
		}
		f.mu.Lock()
		f.links = append(f.links, l)
		f.attached = append(f.attached, Attachment{Interface: ifc.Name, Mode: m})
		f.mu.Unlock()
		f.log.Info("xdp: attached", "interface", ifc.Name, "mode", m)
		return nil
	}
	return fmt.Errorf("attach to %s: %w", ifc.Name, errors.Join(errs...))
}

// Attached lists the interfaces the filter is attached to and how.
func (f *Filter) Attached() []Attachment {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Attachment(nil), f.attached...)
}

// Limits returns the limits in force, normalized.
func (f *Filter) Limits() ratelimit.Limits {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.limits
}

// Update writes new limits into the maps without detaching (on reload).
// Buckets keep their state; MaxConns is not enforced by XDP.
func (f *Filter) Update(l ratelimit.Limits) error {
	l, err := l.Normalize()
	if err != nil {
		return fmt.Errorf("xdp: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := configure(f.objs, f.ports, l); err != nil {
		return fmt.Errorf("xdp: %w", err)
	}
	f.limits = l
	f.log.Info("xdp: limits updated", "qps", l.QPS, "burst", l.Burst, "slip", l.Slip,
		"allow", len(l.Allow), "deny", len(l.Deny))
	return nil
}

// Close detaches the program from every interface and frees its maps.
func (f *Filter) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	if f.reg != nil {
		f.reg.Unregister(f.coll)
		f.reg = nil
	}
	for _, l := range f.links {
		errs = append(errs, l.Close())
	}
	f.links, f.attached = nil, nil
	if f.objs != nil {
		errs = append(errs, f.objs.Close())
		f.objs = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("xdp: close: %w", err)
	}
	return nil
}
