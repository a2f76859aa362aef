package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDefaultFromResolvConf(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    []string
		wantErr string
	}{
		{"nameservers", "# comment\nsearch example\nnameserver 127.0.0.53\nnameserver ::1\nnameserver fe80::1%eth0\noptions edns0\n",
			[]string{"udp://127.0.0.53:53", "udp://[::1]:53", "udp://[fe80::1]:53"}, ""},
		{"none", "search example\n", nil, "no nameserver lines in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "resolv.conf")
			os.WriteFile(path, []byte(tt.content), 0o644)
			cfg, err := Default(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg.Upstreams, tt.want) {
				t.Fatalf("upstreams %v, want %v", cfg.Upstreams, tt.want)
			}
			if cfg.Listen.DNS[0] != "127.0.0.1:8053" || cfg.Listen.Metrics != "127.0.0.1:9153" {
				t.Fatalf("listeners %+v", cfg.Listen)
			}
		})
	}
	if _, err := Default(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing resolv.conf accepted")
	}
}
