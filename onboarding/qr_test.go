package onboarding

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// TestQRCodes: every QR code on the page is well-formed SVG and decodes —
// rendered to PNG by librsvg and read by zbar, two independent programs —
// to the DoH URL or host name printed beside it.
func TestQRCodes(t *testing.T) {
	rsvg := dnstest.NeedBinary(t, "rsvg-convert", "librsvg2-bin")
	zbar := dnstest.NeedBinary(t, "zbarimg", "zbar-tools")
	_, srv := startPages(t, testConfig())
	_, page := get(t, srv, "/")
	doc := checkHTML(t, page)
	var want []string
	for _, s := range find(doc, func(n *html.Node) bool { return attr(n, "data-profile") != "" }) {
		want = append(want, text(find(s, byClass("doh-url"))[0]), text(find(s, byClass("android-host"))[0]))
	}
	svgs := regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(page, -1)
	if len(svgs) != len(want) || len(svgs) == 0 {
		t.Fatalf("%d QR codes, want %d", len(svgs), len(want))
	}
	dir := t.TempDir()
	for i, svg := range svgs {
		d := xml.NewDecoder(strings.NewReader(svg))
		d.Strict = true
		for {
			if _, err := d.Token(); err != nil {
				if err.Error() != "EOF" {
					t.Fatalf("QR %d is not well-formed XML: %v", i, err)
				}
				break
			}
		}
		in, out := filepath.Join(dir, strconv.Itoa(i)+".svg"), filepath.Join(dir, strconv.Itoa(i)+".png")
		if err := os.WriteFile(in, []byte(svg), 0o644); err != nil {
			t.Fatal(err)
		}
		if b, err := exec.Command(rsvg, "-w", "400", "-o", out, in).CombinedOutput(); err != nil {
			t.Fatalf("rsvg-convert: %v\n%s", err, b)
		}
		got, err := exec.Command(zbar, "-q", "--raw", out).Output()
		if err != nil {
			t.Fatalf("zbarimg could not read QR %d: %v", i, err)
		}
		if strings.TrimSpace(string(got)) != want[i] {
			t.Errorf("QR %d decodes to %q, want %q", i, got, want[i])
		}
	}
}
