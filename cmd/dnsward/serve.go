package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dnsward/dnsward/gateway"
	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/internal/sockets"
)

// drainTimeout bounds how long SIGINT/SIGTERM wait for in-flight queries.
const drainTimeout = 10 * time.Second

func serve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "configuration file (default: the embedded configuration)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	sockets.Inherit() // systemd socket activation; the listeners take them in Start
	cfg, err := loadConfig(*file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	log := newLogger(cfg.Log, stderr)
	g, err := gateway.New(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP is caught before Start (loading large lists takes seconds, and
	// the default action would kill the process); reloads begin after it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if err := g.Start(ctx); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	sockets.Settle(log)
	for _, l := range g.Listeners() {
		fmt.Fprintf(stdout, "dnsward: %-14s on %-22s try: %s\n", l.Transport, l.Addr, l.Try)
	}
	if ca := g.CAFile(); ca != "" {
		fmt.Fprintf(stdout, "dnsward: self-signed certificates; clients trust them with the CA in %s\n", ca)
	}
	sd := notifier{log}
	go reloadOnHUP(hup, g, *file, log, sd)
	log.Info("dnsward started", "version", version, "config", cfg.File)
	sd.ready()
	<-ctx.Done()
	stop() // a second SIGINT/SIGTERM now kills the process at once
	sd.stopping()
	log.Info("dnsward stopping: draining in-flight queries", "timeout", drainTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := g.Shutdown(sctx); err != nil {
		log.Warn("dnsward: unclean shutdown", "err", err)
		return 1
	}
	return 0
}

// reloadOnHUP re-reads the configuration file and reloads lists,
// certificates and limits on every SIGHUP, keeping the running state on error;
// systemd sees RELOADING=1 before and READY=1 after each one.
func reloadOnHUP(hup <-chan os.Signal, g *gateway.Gateway, file string, log *slog.Logger, sd notifier) {
	for range hup {
		sd.reloading()
		var next *config.Config
		if file != "" {
			var err error
			if next, err = config.Load(file); err != nil {
				log.Warn("dnsward: configuration not reloaded; keeping the running one", "err", err)
			}
		}
		if err := g.Reload(next); err != nil {
			log.Warn("dnsward: reload kept the last good state for some parts", "err", err)
		} else {
			log.Info("dnsward: reloaded lists, certificates and limits")
		}
		sd.ready()
	}
}

// resolvConf is where the embedded default finds its upstreams (tests
// point it elsewhere).
var resolvConf = config.DefaultResolvConf

// loadConfig reads file, or the embedded default when file is "".
func loadConfig(file string) (*config.Config, error) {
	if file == "" {
		return config.Default(resolvConf)
	}
	return config.Load(file)
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
