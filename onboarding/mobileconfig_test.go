package onboarding

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"html/template"
	"maps"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
	"go.yaml.in/yaml/v3"
	"howett.net/plist"
)

// schemaKey is one key of Apple's device-management schema YAML.
type schemaKey struct {
	Key       string      `yaml:"key"`
	Type      string      `yaml:"type"`
	Presence  string      `yaml:"presence"`
	RangeList []any       `yaml:"rangelist"`
	Subkeys   []schemaKey `yaml:"subkeys"`
}

// schema is one schema file: its payload type and keys.
type schema struct {
	Payload struct {
		PayloadType string `yaml:"payloadtype"`
	} `yaml:"payload"`
	PayloadKeys []schemaKey `yaml:"payloadkeys"`
}

func loadSchema(t *testing.T, name string) schema {
	t.Helper()
	b, err := os.ReadFile("testdata/apple/" + name) // Apple's published schema, see testdata/apple/README.md
	if err != nil {
		t.Fatal(err)
	}
	var s schema
	if err := yaml.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(s.PayloadKeys) == 0 {
		t.Fatalf("%s: no payload keys", name)
	}
	return s
}

// checkDict checks every key of d against keys: known (or ANY), of the
// type the schema says, within its rangelist, and every required key
// present; dictionaries and arrays are checked all the way down. It
// returns one line per problem.
func checkDict(path string, d map[string]any, keys []schemaKey) []string {
	var errs []string
	byName := map[string]schemaKey{}
	for _, k := range keys {
		byName[k.Key] = k
	}
	for _, name := range slices.Sorted(maps.Keys(d)) {
		k, ok := byName[name]
		if !ok {
			k, ok = byName["ANY"]
		}
		if !ok {
			errs = append(errs, path+"."+name+": not in Apple's schema")
			continue
		}
		errs = append(errs, checkValue(path+"."+name, d[name], k)...)
	}
	for _, k := range keys {
		if _, ok := d[k.Key]; !ok && k.Presence == "required" && k.Key != "ANY" {
			errs = append(errs, path+"."+k.Key+": required by Apple's schema, missing")
		}
	}
	return errs
}

func checkValue(path string, v any, k schemaKey) []string {
	var ok bool
	var errs []string
	switch k.Type {
	case "<string>":
		_, ok = v.(string)
	case "<integer>":
		switch v.(type) {
		case uint64, int64:
			ok = true
		}
	case "<boolean>":
		_, ok = v.(bool)
	case "<real>":
		_, ok = v.(float64)
	case "<data>":
		_, ok = v.([]byte)
	case "<date>":
		_, ok = v.(time.Time)
	case "<any>":
		ok = true
	case "<dictionary>":
		var d map[string]any
		if d, ok = v.(map[string]any); ok && len(k.Subkeys) > 0 {
			errs = append(errs, checkDict(path, d, k.Subkeys)...)
		}
	case "<array>":
		var a []any
		if a, ok = v.([]any); ok && len(k.Subkeys) > 0 {
			for i, e := range a {
				errs = append(errs, checkValue(fmt.Sprintf("%s[%d]", path, i), e, k.Subkeys[0])...)
			}
		}
	default:
		return append(errs, fmt.Sprintf("%s: schema type %q not understood", path, k.Type))
	}
	if !ok {
		return append(errs, fmt.Sprintf("%s: %T, Apple's schema says %s", path, v, k.Type))
	}
	if len(k.RangeList) > 0 && !slices.ContainsFunc(k.RangeList, func(r any) bool { return fmt.Sprint(r) == fmt.Sprint(v) }) {
		errs = append(errs, fmt.Sprintf("%s: %v is not one of %v", path, v, k.RangeList))
	}
	return errs
}

// TestSchemaCheckCatches: the schema check is not vacuous: each kind of
// mistake in a payload is reported.
func TestSchemaCheckCatches(t *testing.T) {
	common, dns := loadSchema(t, "CommonPayloadKeys.yaml"), loadSchema(t, "com.apple.dnsSettings.managed.yaml")
	keys := append(append([]schemaKey(nil), common.PayloadKeys...), dns.PayloadKeys...)
	good := func() map[string]any {
		return map[string]any{
			"PayloadIdentifier": "a.b", "PayloadUUID": "X", "PayloadType": "com.apple.dnsSettings.managed", "PayloadVersion": uint64(1),
			"DNSSettings": map[string]any{"DNSProtocol": "HTTPS", "ServerURL": "https://a/", "ServerAddresses": []any{"192.0.2.1"}},
		}
	}
	if errs := checkDict("p", good(), keys); len(errs) != 0 {
		t.Fatalf("a good payload fails: %v", errs)
	}
	for _, tt := range []struct {
		name   string
		change func(map[string]any)
		want   string
	}{
		{"unknown key", func(p map[string]any) { p["ServerURL"] = "x" }, "p.ServerURL: not in Apple's schema"},
		{"wrong type", func(p map[string]any) { p["PayloadVersion"] = "1" }, "p.PayloadVersion: string, Apple's schema says <integer>"},
		{"missing required", func(p map[string]any) { delete(p, "PayloadUUID") }, "p.PayloadUUID: required by Apple's schema, missing"},
		{"out of range", func(p map[string]any) { p["DNSSettings"].(map[string]any)["DNSProtocol"] = "QUIC" }, "p.DNSSettings.DNSProtocol: QUIC is not one of"},
		{"nested element type", func(p map[string]any) { p["DNSSettings"].(map[string]any)["ServerAddresses"] = []any{uint64(1)} },
			"p.DNSSettings.ServerAddresses[0]: uint64, Apple's schema says <string>"},
	} {
		p := good()
		tt.change(p)
		if errs := strings.Join(checkDict("p", p, keys), "\n"); !strings.Contains(errs, tt.want) {
			t.Errorf("%s: errors %q, want %q", tt.name, errs, tt.want)
		}
	}
}

// TestMobileconfigSchema decodes each served .mobileconfig as a property
// list and checks every key and type against Apple's published schema:
// TopLevel.yaml for the outer dictionary, CommonPayloadKeys.yaml and
// com.apple.dnsSettings.managed.yaml for the payload. DoH where the
// profile has a URL, DoT (ServerName) where it has only a TLS name.
func TestMobileconfigSchema(t *testing.T) {
	top, common, dns := loadSchema(t, "TopLevel.yaml"), loadSchema(t, "CommonPayloadKeys.yaml"), loadSchema(t, "com.apple.dnsSettings.managed.yaml")
	payloadKeys := append(append([]schemaKey(nil), common.PayloadKeys...), dns.PayloadKeys...)
	cfg := testConfig()
	cfg.Profiles = append(cfg.Profiles, Profile{Name: "dot only", DoTHost: "dot.dns.example"})
	_, srv := startPages(t, cfg)
	uuidRE := regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)
	seen := map[string]string{}
	for _, tt := range []struct {
		profile, path string
		settings      map[string]any
	}{
		{"child", "/setup/child.mobileconfig", map[string]any{"DNSProtocol": "HTTPS", "ServerURL": "https://child.dns.example" + port(srv) + "/child", "ServerAddresses": []any{"192.0.2.1", "2001:db8::1"}}},
		{"open", "/setup/open.mobileconfig", map[string]any{"DNSProtocol": "HTTPS", "ServerURL": "https://dns.example" + port(srv) + "/dns-query", "ServerAddresses": []any{"2001:db8::1"}}},
		{"dot only", "/setup/dot%20only.mobileconfig", map[string]any{"DNSProtocol": "TLS", "ServerName": "dot.dns.example"}},
	} {
		t.Run(tt.profile, func(t *testing.T) {
			resp, body := get(t, srv, tt.path)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-apple-aspen-config" {
				t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			var prof map[string]any
			if _, err := plist.Unmarshal([]byte(body), &prof); err != nil {
				t.Fatalf("not a property list: %v\n%s", err, body)
			}
			for _, e := range checkDict("profile", prof, top.PayloadKeys) {
				t.Error(e)
			}
			content := prof["PayloadContent"].([]any)
			if len(content) != 1 {
				t.Fatalf("%d payloads, want 1", len(content))
			}
			p := content[0].(map[string]any)
			for _, e := range checkDict("payload", p, payloadKeys) {
				t.Error(e)
			}
			if p["PayloadType"] != dns.Payload.PayloadType || prof["PayloadType"] != "Configuration" {
				t.Errorf("payload types %v / %v", p["PayloadType"], prof["PayloadType"])
			}
			if got := fmt.Sprint(p["DNSSettings"]); got != fmt.Sprint(tt.settings) {
				t.Errorf("DNSSettings %s, want %s", got, fmt.Sprint(tt.settings))
			}
			if name := prof["PayloadDisplayName"]; name != "Example DNS ("+tt.profile+")" {
				t.Errorf("PayloadDisplayName %q", name)
			}
			for _, u := range []any{prof["PayloadUUID"], p["PayloadUUID"]} {
				s, _ := u.(string)
				if !uuidRE.MatchString(s) {
					t.Errorf("PayloadUUID %q is not an upper-case UUIDv5", s)
				}
				if other, dup := seen[s]; dup {
					t.Errorf("PayloadUUID %s is used by %s too", s, other)
				}
				seen[s] = tt.profile
			}
			if _, again := get(t, srv, tt.path); again != body {
				t.Error("a second download differs: the UUIDs must be stable")
			}
		})
	}
	if resp, _ := get(t, srv, "/setup/nobody.mobileconfig"); resp.StatusCode != 404 {
		t.Errorf("unknown profile: status %d, want 404", resp.StatusCode)
	}
}

// port is srv's port as the DoH URLs on its pages write it.
func port(srv *httptest.Server) string {
	u, _ := url.Parse(srv.URL)
	return ":" + u.Port()
}

// TestMobileconfigSigned: with Sign, the file is CMS SignedData whose
// signature verifies against the signing certificate and whose content is
// the unsigned property list.
func TestMobileconfigSigned(t *testing.T) {
	cert := selfSigned(t)
	plain, signed := testConfig(), testConfig()
	signed.Sign = func() (*tls.Certificate, error) { return cert, nil }
	_, srvPlain := startPages(t, plain)
	_, srvSigned := startPages(t, signed)
	_, want := get(t, srvPlain, "/setup/child.mobileconfig")
	resp, body := get(t, srvSigned, "/setup/child.mobileconfig")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	p7, err := pkcs7.Parse([]byte(body))
	if err != nil {
		t.Fatalf("not CMS: %v", err)
	}
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	if err := p7.VerifyWithChain(roots); err != nil {
		t.Fatalf("signature: %v", err)
	}
	want = strings.ReplaceAll(want, port(srvPlain), port(srvSigned)) // the DoH URL has the page's port
	if !bytes.Equal(p7.Content, []byte(want)) {
		t.Fatal("signed content differs from the unsigned profile")
	}
	if _, page := get(t, srvSigned, "/setup/child"); !strings.Contains(page, template.HTMLEscapeString(English.AppleSigned)) {
		t.Error("the page does not say the profile is signed")
	}
}

// TestMobileconfigSignedOnce: a signature costs a millisecond and the page
// is open to all, so a repeated request gets the file signed the first time
// (a fresh signature would differ: its signing time and ECDSA's random
// nonce); a renewed certificate signs afresh, and that file verifies
// against the new certificate.
func TestMobileconfigSignedOnce(t *testing.T) {
	var mu sync.Mutex
	cert := selfSigned(t)
	cfg := testConfig()
	cfg.Sign = func() (*tls.Certificate, error) { mu.Lock(); defer mu.Unlock(); return cert, nil }
	_, srv := startPages(t, cfg)
	_, first := get(t, srv, "/setup/child.mobileconfig")
	if _, again := get(t, srv, "/setup/child.mobileconfig"); again != first {
		t.Fatal("the same profile was signed again")
	}
	renewed := selfSigned(t)
	mu.Lock()
	cert = renewed
	mu.Unlock()
	_, body := get(t, srv, "/setup/child.mobileconfig")
	if body == first {
		t.Fatal("still the file signed with the old certificate")
	}
	p7, err := pkcs7.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(renewed.Certificate[0])
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	if err := p7.VerifyWithChain(roots); err != nil {
		t.Fatalf("signature after renewal: %v", err)
	}
}
