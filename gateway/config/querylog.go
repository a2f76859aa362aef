package config

import (
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/dnsward/dnsward/querylog"
)

// QueryLog configures the query log and how every output writes clients.
type QueryLog struct {
	// Client is how a client appears in the query log and every other
	// output: pseudonym (default), truncate, none, or raw.
	Client      string         `yaml:"client"`
	K           int            `yaml:"k"`            // clients per pseudonym bucket, at least; default 8
	OnlyBlocked bool           `yaml:"only_blocked"` // log only answers a policy changed
	Sample      *float64       `yaml:"sample"`       // share of queries logged, in (0, 1]; default 1
	Stats       *bool          `yaml:"stats"`        // keep the statistics of dnsward stats; default true
	Sinks       []QueryLogSink `yaml:"sinks"`
}

// QueryLogSink is one query log output: exactly one of dnstap and json.
type QueryLogSink struct {
	Dnstap  string   `yaml:"dnstap"`   // unix:///path, tcp://host:port or file:///path
	JSON    string   `yaml:"json"`     // JSON-lines file
	MaxSize int64    `yaml:"max_size"` // bytes before a file is rotated; default 100 MiB
	Keep    *int     `yaml:"keep"`     // rotated files kept; default 7, 0 all
	MaxAge  Duration `yaml:"max_age"`  // rotated files older than this are removed; default 7 days
	Queue   int      `yaml:"queue"`    // records waiting for the writer; default 4096
}

// Query log defaults.
const (
	DefaultPseudonymK = 8
	defaultMaxSize    = 100 << 20
	defaultKeep       = 7
	defaultMaxAge     = Duration(7 * 24 * 60 * 60 * 1e9)
)

// ClientMode is query_log.client, which every output follows (pseudonym
// without a query_log section).
func (c *Config) ClientMode() querylog.Mode {
	if c.QueryLog == nil {
		return querylog.Pseudonym
	}
	m, _ := querylog.ParseMode(c.QueryLog.Client) // validated
	return m
}

// StatsOn reports whether the statistics of `dnsward stats` are kept: with
// a query_log section, unless query_log.stats is false.
func (c *Config) StatsOn() bool {
	return c.QueryLog != nil && (c.QueryLog.Stats == nil || *c.QueryLog.Stats)
}

// PseudonymK is query_log.k, or its default.
func (c *Config) PseudonymK() int {
	if c.QueryLog == nil || c.QueryLog.K == 0 {
		return DefaultPseudonymK
	}
	return c.QueryLog.K
}

// QueryLogConfig is the querylog package's view of query_log, with masker
// writing the clients; paths are resolved and defaults filled in.
func (c *Config) QueryLogConfig(masker *querylog.Masker) querylog.Config {
	q := c.QueryLog
	out := querylog.Config{Masker: masker, OnlyBlocked: q.OnlyBlocked, Sample: 1}
	if q.Sample != nil {
		out.Sample = *q.Sample
	}
	for _, s := range q.Sinks {
		sc := querylog.SinkConfig{Dnstap: s.Dnstap, JSON: c.Path(s.JSON), Queue: s.Queue,
			Rotation: querylog.Rotation{MaxSize: s.MaxSize, Keep: defaultKeep, MaxAge: s.MaxAge.Std()}}
		if sc.Rotation.MaxSize == 0 {
			sc.Rotation.MaxSize = defaultMaxSize
		}
		if s.Keep != nil {
			sc.Rotation.Keep = *s.Keep
		}
		if s.MaxAge == 0 {
			sc.Rotation.MaxAge = defaultMaxAge.Std()
		}
		out.Sinks = append(out.Sinks, sc)
	}
	return out
}

func (c *Config) validateQueryLog() Errors {
	q := c.QueryLog
	if q == nil {
		return nil
	}
	var errs Errors
	add := func(key, format string, args ...any) { errs = append(errs, c.errAt("query_log."+key, format, args...)) }
	if _, err := querylog.ParseMode(q.Client); err != nil {
		add("client", "%v", err)
	}
	if q.K < 0 {
		add("k", "must be at least 1, got %d", q.K)
	}
	if q.Sample != nil && (*q.Sample <= 0 || *q.Sample > 1) {
		add("sample", "must be in (0, 1], got %v", *q.Sample)
	}
	for i, s := range q.Sinks {
		key := fmt.Sprintf("sinks[%d]", i)
		switch {
		case (s.Dnstap == "") == (s.JSON == ""):
			add(key, "set exactly one of dnstap and json")
		case s.Dnstap != "":
			if err := checkDnstap(s.Dnstap); err != nil {
				add(key+".dnstap", "%v", err)
			}
		}
		if s.MaxSize < 0 {
			add(key+".max_size", "must not be negative, got %d", s.MaxSize)
		}
		if s.Keep != nil && *s.Keep < 0 {
			add(key+".keep", "must not be negative, got %d", *s.Keep)
		}
		if s.MaxAge < 0 {
			add(key+".max_age", "must not be negative")
		}
		if s.Queue < 0 {
			add(key+".queue", "must not be negative, got %d", s.Queue)
		}
	}
	return errs
}

// checkDnstap accepts unix:///path, tcp://ip:port and file:///path.
func checkDnstap(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "unix", "file":
		if u.Host != "" || !filepath.IsAbs(u.Path) {
			return fmt.Errorf("want %s:///absolute/path, got %q", u.Scheme, s)
		}
		return nil
	case "tcp":
		return checkHostPort(u.Host)
	}
	return fmt.Errorf("want unix:///path, tcp://ip:port or file:///path, got %q", s)
}
