package certs

import (
	"context"
	"log/slog"
	"slices"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newZapLogger returns a zap logger (what certmagic logs through) that writes
// to an slog handler, so certmagic's lines land in the gateway's log.
func newZapLogger(h slog.Handler) *zap.Logger {
	return zap.New(slogCore{h: h})
}

// slogCore is a zapcore.Core that forwards entries to an slog.Handler.
type slogCore struct{ h slog.Handler }

func (c slogCore) Enabled(l zapcore.Level) bool {
	return c.h.Enabled(context.Background(), slogLevel(l))
}

func (c slogCore) With(fields []zapcore.Field) zapcore.Core {
	return slogCore{h: c.h.WithAttrs(attrs(fields))}
}

func (c slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	rec := slog.NewRecord(e.Time, slogLevel(e.Level), e.Message, 0)
	if e.LoggerName != "" {
		rec.AddAttrs(slog.String("logger", strings.TrimPrefix(e.LoggerName, ".")))
	}
	rec.AddAttrs(attrs(fields)...)
	return c.h.Handle(context.Background(), rec)
}

func (slogCore) Sync() error { return nil }

// peerFields are certmagic's fields naming the other end of a connection:
// a DNS client's address on TLS handshakes. dnsward never logs those.
var peerFields = map[string]bool{"remote": true, "remote_ip": true, "remote_port": true}

// attrs converts zap fields to slog attributes in a stable (sorted) order,
// leaving out peer addresses.
func attrs(fields []zapcore.Field) []slog.Attr {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	out := make([]slog.Attr, 0, len(enc.Fields))
	for k, v := range enc.Fields {
		if !peerFields[k] {
			out = append(out, slog.Any(k, v))
		}
	}
	slices.SortFunc(out, func(a, b slog.Attr) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}
