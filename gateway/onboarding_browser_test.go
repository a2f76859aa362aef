package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// browserEvents collects what a page did: every request it sent, and every
// console error, exception and error-level log entry.
type browserEvents struct {
	mu       sync.Mutex
	requests []string
	errors   []consoleError
}

// consoleError is one console error, exception or error-level log entry.
type consoleError struct{ url, text string }

func (b *browserEvents) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.URL)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			args, _ := json.Marshal(ev.Args)
			b.errors = append(b.errors, consoleError{"", "console.error " + string(args)})
		}
	case *runtime.EventExceptionThrown:
		b.errors = append(b.errors, consoleError{ev.ExceptionDetails.URL, "exception " + ev.ExceptionDetails.Text})
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError {
			b.errors = append(b.errors, consoleError{ev.Entry.URL, fmt.Sprintf("%s: %s", ev.Entry.Source, ev.Entry.Text)})
		}
	}
}

// trustingHome is a HOME whose NSS database trusts the gateway's CA, the
// way Chromium on Linux reads locally trusted roots.
func trustingHome(t *testing.T, g *Gateway) string {
	certutil := dnstest.NeedBinary(t, "certutil", "libnss3-tools")
	home := t.TempDir()
	db := "sql:" + filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(filepath.Join(home, ".pki", "nssdb"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-d", db, "-N", "--empty-password"}, {"-d", db, "-A", "-t", "C,,", "-n", "dnsward-test", "-i", g.CAFile()}} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	return home
}

// TestSetupPageInChromium loads the setup page over HTTPS in headless
// Chromium (the gateway's self-signed CA trusted in a throw-away NSS
// database, no certificate errors ignored) and checks what a visitor sees:
// every profile with its DoH URL, host name and .mobileconfig link, the
// style sheet and script applied under the CSP, dark mode, a phone-sized
// viewport without sideways scrolling, no console errors, and no request
// leaving the gateway. Then "am I protected?": with Chromium's secure DNS
// (its Local State preferences dns_over_https.mode secure and .templates)
// pointed at the gateway's /child path the page says profile child over
// DoH; with secure DNS off it says "not using" (the check name is mapped
// to NOTFOUND there, so that nothing asks the system's resolver).
func TestSetupPageInChromium(t *testing.T) {
	chromium := dnstest.NeedBinary(t, "chromium", "chromium")
	dir := t.TempDir()
	writeFile(t, dir+"/adult.txt", "adult.example\n")
	doh := dnstest.FreePort(t)
	g := runGateway(t, loadYAML(t, dir, setupYAML(dir, "builtin", doh, dnstest.FreePort(t), dnstest.FreePort(t),
		"onboarding: {service_name: Example DNS, check_domain: check.dnsward.test}\n")), nil)
	home := trustingHome(t, g)
	base := fmt.Sprintf("https://localhost:%d", doh)
	probeRE := regexp.MustCompile(`^https://[a-z2-7]{26}\.check\.dnsward\.test/check\.png$`)

	for _, tt := range []struct {
		name, localState string
		flags            map[string]any
		want             string
	}{
		{"secure DNS via child", fmt.Sprintf(`{"dns_over_https":{"mode":"secure","templates":"%s/child{?dns}"}}`, base), nil,
			"You are using Example DNS, profile child, over DNS over HTTPS (HTTP/2)."},
		{"system DNS", `{"dns_over_https":{"mode":"off"}}`, map[string]any{"host-resolver-rules": "MAP *.check.dnsward.test ~NOTFOUND"},
			"You are not using Example DNS."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			profile := t.TempDir()
			writeFile(t, filepath.Join(profile, "Local State"), tt.localState)
			opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.UserDataDir(profile),
				chromedp.Env("HOME="+home), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Flag("disable-component-update", true))
			for k, v := range tt.flags {
				opts = append(opts, chromedp.Flag(k, v))
			}
			actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
			defer cancel()
			ctx, cancel := chromedp.NewContext(actx)
			defer cancel()
			var ev browserEvents
			if err := chromedp.Listen(ctx, ev.listen); err != nil {
				t.Fatal(err)
			}
			tctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
			defer cancelT()
			if err := chromedp.Do(tctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible("#check-result[data-using]")); err != nil {
				t.Fatalf("loading the page: %v (errors %v)", err, ev.errors)
			}
			type section struct{ Name, DoH, Host, Mobile string }
			sections, err := chromedp.Run(tctx, chromedp.Evaluate[[]section](`[...document.querySelectorAll("section.profile")].map(s => ({
				Name: s.dataset.profile, DoH: s.querySelector(".doh-url").textContent,
				Host: s.querySelector(".android-host").textContent, Mobile: s.querySelector("a.mobileconfig").href}))`))
			if err != nil {
				t.Fatal(err)
			}
			want := []section{
				{"child", base[:len(base)-len(fmt.Sprint(doh))-len("localhost:")] + "child.localhost:" + fmt.Sprint(doh) + "/child", "child.localhost", base + "/setup/child.mobileconfig"},
				{"open", base + "/dns-query", "localhost", base + "/setup/open.mobileconfig"},
			}
			if fmt.Sprint(sections) != fmt.Sprint(want) {
				t.Errorf("profiles in the DOM %+v, want %+v", sections, want)
			}
			result, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.querySelector("#check-result").textContent`))
			if err != nil || result != tt.want {
				t.Errorf("check result %q (%v), want %q", result, err, tt.want)
			}
			type look struct {
				Radius, Background string
				Copies, Width      int
			}
			light, err := chromedp.Run(tctx, chromedp.Evaluate[look](`({Radius: getComputedStyle(document.querySelector(".card")).borderRadius,
				Background: getComputedStyle(document.body).backgroundColor,
				Copies: document.querySelectorAll("button.copy:not([hidden])").length, Width: document.documentElement.scrollWidth})`))
			if err != nil {
				t.Fatal(err)
			}
			if light.Radius != "8px" || light.Copies == 0 {
				t.Errorf("style sheet or script not applied: %+v", light)
			}
			err = chromedp.Do(tctx,
				chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
					_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
						Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
					return err
				}),
				chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile, chromedp.EmulateScale(2)),
				chromedp.Sleep(200*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			dark, err := chromedp.Run(tctx, chromedp.Evaluate[look](`({Background: getComputedStyle(document.body).backgroundColor,
				Width: document.documentElement.scrollWidth})`))
			if err != nil {
				t.Fatal(err)
			}
			if dark.Background == light.Background {
				t.Errorf("prefers-color-scheme: dark leaves the background %s", dark.Background)
			}
			if dark.Width > 360 {
				t.Errorf("on a 360 px wide phone the page is %d px wide", dark.Width)
			}
			ev.mu.Lock()
			defer ev.mu.Unlock()
			for _, asset := range []string{"/", "/setup/assets/setup.css", "/setup/assets/setup.js", "/setup/assets/icon.svg"} {
				if !slices.Contains(ev.requests, base+asset) {
					t.Errorf("the page never requested %s (requests: %v)", asset, ev.requests)
				}
			}
			for _, u := range ev.requests {
				if !strings.HasPrefix(u, base+"/") && !probeRE.MatchString(u) {
					t.Errorf("the page requested %s, outside the gateway", u)
				}
			}
			for _, e := range ev.errors {
				// The check image's name is answered NXDOMAIN by design:
				// only its resolution matters.
				if strings.Contains(e.text, "ERR_NAME_NOT_RESOLVED") && probeRE.MatchString(e.url) {
					continue
				}
				t.Errorf("console: %s %s", e.url, e.text)
			}
		})
	}
}
