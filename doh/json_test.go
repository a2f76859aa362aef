package doh

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestJSONAPI(t *testing.T) { forEachEngine(t, testJSONAPI) }

func testJSONAPI(t *testing.T, engine string) {
	env := startServer(t, onEngine(engine))
	addr := env.srv.TLSAddrs()[0]
	tests := []struct {
		name      string
		host      string
		target    string
		accept    string
		wantCT    string
		status    int // DNS RCODE
		wantData  string
		wantType  uint16
		wantTTL   uint32
		comment   string
		profile   string
		wantCache string
	}{
		{"resolve A", "dns.test", "/resolve?name=a.test&type=A", "application/dns-json", "application/dns-json", 0, "127.0.0.1", 1, 300, "", "unfiltered", "max-age=300"},
		{"default type is A", "dns.test", "/resolve?name=a.test.", "", "application/dns-json", 0, "127.0.0.1", 1, 300, "", "unfiltered", "max-age=300"},
		{"numeric type", "dns.test", "/resolve?name=big.test&type=16", "*/*", "application/dns-json", 0, `"record xxxxxxxxxxxxxxxxxxxxa"`, 16, 60, "", "unfiltered", "max-age=60"},
		{"plain json accepted", "dns.test", "/resolve?name=a.test", "application/json", "application/json", 0, "127.0.0.1", 1, 300, "", "unfiltered", "max-age=300"},
		{"profile path blocks with comment", "dns.test", "/ads/resolve?name=ads.example&type=a", "application/dns-json", "application/dns-json", 3, "", 0, 0, "EDE(17): Filtered (ads)", "ads", "max-age=0"},
		{"host selects profile", "ads.dns.test", "/resolve?name=ads.example", "application/dns-json", "application/dns-json", 3, "", 0, 0, "EDE(17): Filtered (ads)", "ads", "max-age=0"},
		{"cloudflare style on dns-query", "dns.test", "/dns-query?name=a.test&type=A", "application/dns-json", "application/dns-json", 0, "127.0.0.1", 1, 300, "", "unfiltered", "max-age=300"},
		{"nxdomain", "dns.test", "/child/resolve?name=nope.test", "application/dns-json", "application/dns-json", 3, "", 0, 0, "", "child", "max-age=120"},
	}
	for _, v := range []httpVersion{h1, h2, h3} {
		c := env.client(t, v, addr)
		for _, tt := range tests {
			t.Run(string(v)+"/"+tt.name, func(t *testing.T) {
				hdr := map[string]string{}
				if tt.accept != "" {
					hdr["Accept"] = tt.accept
				}
				resp, body := exchange(t, c, http.MethodGet, "https://"+hostPort(tt.host, addr)+tt.target, nil, hdr)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				checkHeader(t, resp, "Content-Type", tt.wantCT)
				checkHeader(t, resp, "Cache-Control", tt.wantCache)
				var got jsonAnswer
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatalf("%v: %s", err, body)
				}
				for _, key := range []string{`"Status":`, `"TC":`, `"RD":`, `"RA":`, `"AD":`, `"CD":`, `"Question":[{"name":`} {
					if !strings.Contains(string(body), key) {
						t.Fatalf("body lacks %s: %s", key, body)
					}
				}
				if got.Status != tt.status || !got.RD || !got.RA || len(got.Question) != 1 || got.Comment != tt.comment {
					t.Fatalf("unexpected answer %s", body)
				}
				if tt.wantData != "" {
					if len(got.Answer) == 0 {
						t.Fatalf("no answer: %s", body)
					}
					a := got.Answer[0]
					if a.Data != tt.wantData || a.Type != tt.wantType || a.TTL != tt.wantTTL {
						t.Fatalf("answer %+v, want %s type %d TTL %d", a, tt.wantData, tt.wantType, tt.wantTTL)
					}
				}
				if p := env.fwd.lastRequest().Profile.Name; p != tt.profile {
					t.Fatalf("profile %q, want %q", p, tt.profile)
				}
			})
		}
	}
}
