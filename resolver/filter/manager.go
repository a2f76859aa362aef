package filter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	// Lists maps a category ("malware", "ads", "adult") to its sources. A
	// category with no sources exists and is empty.
	Lists map[string][]Source
	// BaseDir resolves relative list paths (the config file's folder).
	BaseDir string
	// DataDir keeps the last good copy of every remote list; required when
	// a list is remote.
	DataDir string
	// RefreshInterval is how often remote lists are fetched (default 12h).
	RefreshInterval time.Duration
	// FirstFetchRetry is how soon the fetch is tried again while a remote
	// list has never been downloaded (no copy in DataDir): its category
	// serves without it till then. The wait doubles after each failure, up
	// to RefreshInterval (default 1m).
	FirstFetchRetry time.Duration
	// PollInterval is how often local list files are checked for changes
	// (default 10s).
	PollInterval time.Duration
	// HTTPClient fetches remote lists (nil: a client with a 2-minute timeout).
	HTTPClient *http.Client
	// MaxListBytes bounds one downloaded list (default 256 MiB).
	MaxListBytes int64
	// OperatorCategories are blocked for every client by the operator and
	// answered with EDE 15 Blocked; other categories are the client's choice
	// and get EDE 17 Filtered. nil means ["malware"].
	OperatorCategories []string
	// OnSwap is called after a category's new set replaced the old one, so
	// that whatever kept verdicts (the resolver's replay) can drop them; nil:
	// nobody is told.
	OnSwap func()
	// ThreatIntel adds MISP sources: each one's indicators join its
	// category, beside the category's lists.
	ThreatIntel ThreatIntelConfig
	Logger      *slog.Logger
	Metrics     prometheus.Registerer // nil: metrics are not registered
}

// Manager owns the compiled category sets: it builds them, refreshes them
// and hands out Policies that read them. Every profile that blocks a
// category shares the category's one set.
type Manager struct {
	cfg     ManagerConfig
	log     *slog.Logger
	client  *http.Client
	metrics *metrics
	cats    map[string]*category

	build  sync.Mutex // one build at a time bounds the memory peak
	stop   context.CancelFunc
	done   sync.WaitGroup
	closed atomic.Bool

	intel    []*intelSource // MISP sources
	warn     []*warninglist
	imetrics *intelMetrics
	pull     sync.Mutex // one MISP pull at a time
}

// category is one named category and its current compiled sets.
type category struct {
	name     string
	operator bool
	sources  []*source
	cur      atomic.Pointer[compiled]
	built    bool // a build succeeded; guarded by the Manager's build lock
	intel    []*intelSource
}

// NewManager validates cfg; lists are loaded by Start.
func NewManager(cfg ManagerConfig) (*Manager, error) {
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = 12 * time.Hour
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 10 * time.Second
	}
	if cfg.FirstFetchRetry == 0 {
		cfg.FirstFetchRetry = time.Minute
	}
	if cfg.MaxListBytes == 0 {
		cfg.MaxListBytes = 256 << 20
	}
	if cfg.OperatorCategories == nil {
		cfg.OperatorCategories = []string{"malware"}
	}
	if cfg.RefreshInterval < 0 || cfg.PollInterval < 0 || cfg.FirstFetchRetry < 0 || cfg.MaxListBytes < 0 {
		return nil, errors.New("filter: negative interval or size")
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, client: cfg.HTTPClient, cats: map[string]*category{}}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.client == nil {
		m.client = &http.Client{Timeout: 2 * time.Minute}
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("filter: data dir: %w", err)
		}
	}
	for name, srcs := range cfg.Lists {
		if name == "" {
			return nil, errors.New("filter: a list category has no name")
		}
		c := &category{name: name, operator: slices.Contains(cfg.OperatorCategories, name)}
		for _, s := range srcs {
			src, err := newSource(s, cfg.BaseDir, cfg.DataDir)
			if err != nil {
				return nil, fmt.Errorf("filter: category %q: %w", name, err)
			}
			c.sources = append(c.sources, src)
		}
		c.cur.Store(&compiled{})
		m.cats[name] = c
	}
	var err error
	if m.metrics, err = newMetrics(cfg.Metrics); err != nil {
		return nil, fmt.Errorf("filter: metrics: %w", err)
	}
	if err := m.initIntel(); err != nil {
		return nil, err
	}
	for name := range m.cats {
		m.metrics.empty.WithLabelValues(name).Set(1) // until a build has entries
	}
	return m, nil
}

// Start builds every category from local files and the cached copies of
// remote lists, then refreshes in the background until ctx ends or Close:
// remote lists at once and every RefreshInterval, local files when they
// change. The error names lists that failed to load; the manager runs
// anyway, serving what did load.
func (m *Manager) Start(ctx context.Context) error {
	ctx, m.stop = context.WithCancel(ctx)
	err := m.Reload()
	m.done.Add(1)
	go m.loop(ctx)
	m.startIntel(ctx)
	return err
}

// Reload rebuilds every category from local files and cached remote copies
// (call it on SIGHUP). A category whose lists fail keeps its previous sets.
func (m *Manager) Reload() error {
	errs := []error{m.reloadWarninglists()}
	for _, name := range m.categoryNames() {
		errs = append(errs, m.rebuild(m.cats[name]))
	}
	return errors.Join(errs...)
}

// Refresh fetches every remote list now and rebuilds the categories whose
// lists changed.
func (m *Manager) Refresh(ctx context.Context) error {
	var errs []error
	for _, name := range m.categoryNames() {
		c := m.cats[name]
		changed := false
		for _, s := range c.sources {
			if !s.remote {
				continue
			}
			ok, err := m.fetch(ctx, s)
			if err != nil && ctx.Err() != nil {
				return ctx.Err() // stopping: not a list failure
			}
			if err != nil {
				serving := "previous version keeps serving"
				if !s.hasCopy() {
					serving = "never downloaded, so its category serves without it until a download succeeds"
				}
				errs = append(errs, m.failed(c, s, err, serving))
			}
			changed = changed || ok
		}
		if changed {
			errs = append(errs, m.rebuild(c))
		}
	}
	return errors.Join(errs...)
}

// Close stops the background refresh.
func (m *Manager) Close() error {
	if m.closed.Swap(true) || m.stop == nil {
		return nil
	}
	m.stop()
	m.done.Wait()
	return nil
}

func (m *Manager) categoryNames() []string {
	names := make([]string, 0, len(m.cats))
	for n := range m.cats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (m *Manager) loop(ctx context.Context) {
	defer m.done.Done()
	poll := time.NewTicker(m.cfg.PollInterval)
	defer poll.Stop()
	refresh := time.NewTimer(0)
	defer refresh.Stop()
	retry := m.cfg.FirstFetchRetry // while a remote list was never downloaded
	for {
		select {
		case <-ctx.Done():
			return
		case <-refresh.C:
			_ = m.Refresh(ctx) // each failure is logged and counted by failed
			next := m.cfg.RefreshInterval
			if m.remoteMissing() {
				next, retry = min(next, retry), min(retry*2, next)
			} else {
				retry = m.cfg.FirstFetchRetry
			}
			refresh.Reset(next)
		case <-poll.C:
			for _, name := range m.categoryNames() {
				if c := m.cats[name]; m.localChanged(c) {
					_ = m.rebuild(c) // logged and counted by rebuild
				}
			}
		}
	}
}

// remoteMissing reports whether a remote list has never been downloaded.
func (m *Manager) remoteMissing() bool {
	for _, c := range m.cats {
		if slices.ContainsFunc(c.sources, func(s *source) bool { return !s.hasCopy() }) {
			return true
		}
	}
	return false
}

func (m *Manager) localChanged(c *category) bool {
	m.build.Lock()
	defer m.build.Unlock()
	return slices.ContainsFunc(c.sources, (*source).changed)
}

// failed logs and counts a list failure and returns it with context;
// serving says what the category serves instead.
func (m *Manager) failed(c *category, s *source, err error, serving string) error {
	stage := "read"
	var le *listError
	if errors.As(err, &le) {
		stage = le.stage
	}
	m.metrics.errors.WithLabelValues(c.name, stage).Inc()
	m.log.Warn("filter: list failed, "+serving, "category", c.name, "source", s.name(),
		"category_entries", c.cur.Load().entries, "err", err)
	return fmt.Errorf("filter: category %q, list %s: %w", c.name, s.name(), err)
}
