package certs

import (
	"net"
	"net/http"
	"strconv"
	"strings"
)

// HTTPHandler returns the handler for the plain-HTTP port: it answers ACME
// HTTP-01 validations (acme mode), passes other requests to fallback, or,
// when fallback is nil, redirects them to the same host and path over https
// (308, so the method is kept).
func (m *Manager) HTTPHandler(fallback http.Handler) http.Handler {
	if fallback == nil {
		fallback = http.HandlerFunc(m.redirect)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.acme != nil && m.acme.handleHTTP(w, r) {
			return
		}
		fallback.ServeHTTP(w, r)
	})
}

// redirect sends a request to its https:// equivalent.
func (m *Manager) redirect(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "" {
		http.Error(w, "missing Host header", http.StatusBadRequest)
		return
	}
	if port := m.cfg.HTTPSPort; port != 443 {
		host = net.JoinHostPort(host, strconv.Itoa(port))
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
}
