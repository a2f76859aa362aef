package onboarding

import (
	"fmt"
	"html/template"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
)

// pageData is what page.html shows.
type pageData struct {
	T          *Text
	Service    string
	Contact    string
	ContactURL string
	PrivacyURL string
	Single     bool // one profile's page (/setup/<name>)
	Profiles   []profileView
	Check      *checkView // nil without a check domain
}

// profileView is one profile's section.
type profileView struct {
	Name       string
	Anchor     string
	SetupURL   string
	Blocks     []string
	SafeSearch bool
	DoHURL     string
	DoTHost    string
	AndroidOK  bool // DoT listens on 853, the only port Android tries
	DoTPort    uint16
	Mobile     string // the .mobileconfig's URL; "" when none can be built
	Signed     bool
	Windows    string // the netsh command; "" without DoH
	// NeedDoHAddr and NeedDoTAddr: the Windows or the Linux lines hold
	// AddrHolder for an address the page does not know.
	NeedDoHAddr, NeedDoTAddr bool
	Linux                    string // resolved.conf lines; "" without DoT
	Plain                    []string
	DNSPort                  uint16
	QRDoH                    template.HTML
	QRHost                   template.HTML
}

// checkView is the "am I protected?" part of a page.
type checkView struct {
	ImageURL  string // an image on a fresh random name under the check domain
	ResultURL string // the no-JS result page
	JSONURL   string // what the script asks
}

// page renders the setup page for profiles.
func (s *Server) page(w http.ResponseWriter, r *http.Request, profiles []Profile) {
	d := pageData{
		T: s.cfg.Text, Service: s.cfg.ServiceName, PrivacyURL: s.cfg.PrivacyURL,
		Contact: s.cfg.Contact, ContactURL: contactURL(s.cfg.Contact), Single: len(profiles) == 1 && r.URL.Path != "/",
	}
	for i := range profiles {
		v, err := s.view(r, &profiles[i])
		if err != nil {
			s.cfg.Logger.Error("onboarding: building the page failed", "profile", profiles[i].Name, "error", err)
			http.Error(w, "the page could not be built", http.StatusInternalServerError)
			return
		}
		d.Profiles = append(d.Profiles, v)
	}
	if s.cfg.CheckDomain != "" {
		token := NewToken()
		d.Check = &checkView{
			ImageURL:  "https://" + token + "." + s.cfg.CheckDomain + "/check.png",
			ResultURL: checkPrefix + token,
			JSONURL:   checkPrefix + token + ".json",
		}
	}
	s.render(w, "page.html", d)
}

// view works out what p's section says, for a page reached as r.
func (s *Server) view(r *http.Request, p *Profile) (profileView, error) {
	t := s.cfg.Text
	v := profileView{
		Name: p.Name, Anchor: "p-" + fileName(p.Name), SetupURL: setupPrefix + url.PathEscape(p.Name),
		Blocks: p.Blocks, SafeSearch: p.SafeSearch, DoHURL: s.dohURL(r, p), DoTHost: p.DoTHost,
		DoTPort: s.cfg.DoTPort, AndroidOK: s.cfg.DoTPort == 853, Plain: addrStrings(p.PlainAddrs), DNSPort: s.cfg.DNSPort,
		Signed: s.cfg.Sign != nil,
	}
	if s.cfg.DoTPort == 0 {
		v.DoTHost = ""
	}
	if _, ok := s.settings(p, v.DoHURL); ok {
		v.Mobile = setupPrefix + url.PathEscape(p.Name) + mobileSuffix
	}
	if v.DoHURL != "" {
		addr := t.AddrHolder
		if len(p.DoHAddrs) > 0 {
			addr = p.DoHAddrs[0].String()
		} else {
			v.NeedDoHAddr = true
		}
		v.Windows = fmt.Sprintf("netsh dns add encryption server=%s dohtemplate=%s autoupgrade=yes udpfallback=no", addr, v.DoHURL)
		qr, err := s.qr.get(v.DoHURL+"\x00"+t.QRDoH, func() (template.HTML, error) { return qrSVG(v.DoHURL, t.QRDoH) })
		if err != nil {
			return v, err
		}
		v.QRDoH = qr
	}
	if v.DoTHost != "" {
		server := t.AddrHolder
		if len(p.DoTAddrs) > 0 {
			server = p.DoTAddrs[0].String()
			if s.cfg.DoTPort != 853 {
				server = netip.AddrPortFrom(p.DoTAddrs[0], s.cfg.DoTPort).String()
			}
		} else {
			v.NeedDoTAddr = true
			if s.cfg.DoTPort != 853 {
				server += ":" + strconv.Itoa(int(s.cfg.DoTPort))
			}
		}
		v.Linux = fmt.Sprintf("[Resolve]\nDNS=%s#%s\nDNSOverTLS=yes\n", server, v.DoTHost)
		qr, err := s.qr.get(v.DoTHost+"\x00"+t.QRHost, func() (template.HTML, error) { return qrSVG(v.DoTHost, t.QRHost) })
		if err != nil {
			return v, err
		}
		v.QRHost = qr
	}
	return v, nil
}
