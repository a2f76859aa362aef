package onboarding

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"strconv"
	"strings"
)

//go:embed assets
var assets embed.FS

// pages are the HTML templates, parsed once.
var pages = template.Must(template.New("").ParseFS(assets, "assets/*.html"))

// Server is the setup pages' http.Handler.
type Server struct {
	cfg    Config
	byName map[string]*Profile
	csp    string
	qr     memo[template.HTML] // by content and label
	signed memo[[]byte]        // by unsigned file and signing certificate
}

// New validates cfg and builds the handler.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, byName: map[string]*Profile{}}
	for i := range s.cfg.Profiles {
		s.byName[s.cfg.Profiles[i].Name] = &s.cfg.Profiles[i]
	}
	img := "'self'"
	if cfg.CheckDomain != "" {
		img += " https://*." + cfg.CheckDomain
	}
	// Nothing inline and nothing from elsewhere: the style sheet and the
	// script are this handler's own files; only the check image goes to
	// the check domain, which the gateway answers itself.
	s.csp = "default-src 'none'; style-src 'self'; script-src 'self'; img-src " + img +
		"; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return s, nil
}

// The paths served; every other path is 404.
const (
	setupPrefix  = "/setup/"
	assetsPrefix = "/setup/assets/"
	checkPrefix  = "/setup/check/"
	mobileSuffix = ".mobileconfig"
)

// ServeHTTP serves the setup pages, their assets, the .mobileconfig files
// and the check results, each with the security headers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", s.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	path := r.URL.Path
	switch {
	case path == "/" || path == "/setup" || path == setupPrefix:
		s.page(w, r, s.cfg.Profiles)
	case strings.HasPrefix(path, assetsPrefix):
		s.asset(w, strings.TrimPrefix(path, assetsPrefix))
	case strings.HasPrefix(path, checkPrefix) && s.cfg.CheckDomain != "":
		s.result(w, strings.TrimPrefix(path, checkPrefix))
	case strings.HasSuffix(path, mobileSuffix):
		s.serveMobileconfig(w, r, strings.TrimSuffix(strings.TrimPrefix(path, setupPrefix), mobileSuffix))
	case strings.HasPrefix(path, setupPrefix):
		p, ok := s.byName[strings.TrimPrefix(path, setupPrefix)]
		if !ok {
			s.notFound(w)
			return
		}
		s.page(w, r, []Profile{*p})
	default:
		s.notFound(w)
	}
}

func (s *Server) notFound(w http.ResponseWriter) {
	http.Error(w, s.cfg.Text.NotFound, http.StatusNotFound)
}

// assetTypes are the assets served, with their media types.
var assetTypes = map[string]string{"setup.css": "text/css; charset=utf-8", "setup.js": "text/javascript; charset=utf-8", "icon.svg": "image/svg+xml"}

// asset serves the style sheet, the script and the icon.
func (s *Server) asset(w http.ResponseWriter, name string) {
	ct, ok := assetTypes[name]
	if !ok {
		s.notFound(w)
		return
	}
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		s.notFound(w)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "max-age=3600")
	_, _ = w.Write(b)
}

// serveMobileconfig answers /setup/<profile>.mobileconfig.
func (s *Server) serveMobileconfig(w http.ResponseWriter, r *http.Request, name string) {
	p, ok := s.byName[name]
	if !ok {
		s.notFound(w)
		return
	}
	b, ok, err := s.mobileconfig(p, s.dohURL(r, p))
	switch {
	case err != nil:
		s.cfg.Logger.Error("onboarding: building a .mobileconfig failed", "profile", p.Name, "error", err)
		http.Error(w, "the profile could not be built", http.StatusInternalServerError)
		return
	case !ok:
		s.notFound(w)
		return
	}
	w.Header().Set("Content-Type", "application/x-apple-aspen-config")
	w.Header().Set("Content-Disposition", `attachment; filename="`+fileName(p.Name)+`.mobileconfig"`)
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

// fileName keeps the characters of name a download name may hold.
func fileName(name string) string {
	return strings.Map(func(r rune) rune {
		if isIDChar(r) || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, name)
}

// dohURL is p's DoH URL, on the port the page was reached on; "" without DoH.
func (s *Server) dohURL(r *http.Request, p *Profile) string {
	if p.DoHHost == "" {
		return ""
	}
	host := p.DoHHost
	if _, port, err := net.SplitHostPort(r.Host); err == nil && port != "443" && validPort(port) {
		host = net.JoinHostPort(host, port)
	}
	return "https://" + host + p.DoHPath
}

func validPort(p string) bool {
	n, err := strconv.ParseUint(p, 10, 16)
	return err == nil && n > 0 && strconv.FormatUint(n, 10) == p
}

// contactURL is a link for the configured contact: mailto: for an e-mail
// address, else the URL itself.
func contactURL(c string) string {
	if a, err := mail.ParseAddress(c); err == nil && a.Name == "" {
		return "mailto:" + a.Address
	}
	return c
}

// render executes a template into a buffer first, so that a failure is a
// clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.cfg.Logger.Error("onboarding: rendering failed", "page", name, "error", err)
		http.Error(w, "the page could not be built", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // each page holds a fresh check name
	_, _ = w.Write(buf.Bytes())
}

// result answers /setup/check/<token> (HTML) and <token>.json (for the
// page's script).
func (s *Server) result(w http.ResponseWriter, rest string) {
	token, asJSON := strings.CutSuffix(rest, ".json")
	if !ValidToken(token) {
		s.notFound(w)
		return
	}
	seen, ok := s.cfg.Checks.Lookup(token)
	msg := fmt.Sprintf(s.cfg.Text.CheckNotUsing, s.cfg.ServiceName)
	if ok {
		msg = fmt.Sprintf(s.cfg.Text.CheckUsing, s.cfg.ServiceName, seen.Profile, s.cfg.Text.transportLabel(seen.Transport))
	}
	if asJSON {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		res := struct {
			Using     bool   `json:"using"`
			Profile   string `json:"profile,omitempty"`
			Transport string `json:"transport,omitempty"`
			Message   string `json:"message"`
		}{Using: ok, Message: msg}
		if ok {
			res.Profile, res.Transport = seen.Profile, seen.Transport.String()
		}
		_ = json.NewEncoder(w).Encode(res)
		return
	}
	s.render(w, "result.html", struct {
		T       *Text
		Service string
		Using   bool
		Message string
	}{s.cfg.Text, s.cfg.ServiceName, ok, msg})
}

// addrStrings formats addresses for the page.
func addrStrings(addrs []netip.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}
