package onboarding

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/smallstep/pkcs7"
	"howett.net/plist"
)

// uuidSpace is the UUIDv5 name space of every PayloadUUID dnsward makes, so
// that a profile's UUIDs stay the same across restarts and nodes: a device
// that installs the file again replaces the one it has.
var uuidSpace = uuid.MustParse("5b0c3f8e-6f3c-4d59-9a53-6a1f2f7d2c11")

// PayloadKeys are the keys every payload and the profile itself carry
// (Apple's CommonPayloadKeys schema). Exported only because the plist
// encoder flattens exported embedded structs alone.
type PayloadKeys struct {
	PayloadDescription  string
	PayloadDisplayName  string
	PayloadIdentifier   string
	PayloadType         string
	PayloadUUID         string
	PayloadVersion      int
	PayloadOrganization string `plist:",omitempty"`
}

// appleProfile is the outer dictionary of a configuration profile
// (Apple's TopLevel schema).
type appleProfile struct {
	PayloadContent []dnsPayload
	PayloadKeys
}

// dnsPayload is one com.apple.dnsSettings.managed payload.
type dnsPayload struct {
	DNSSettings dnsSettings
	PayloadKeys
}

// dnsSettings is the payload's DNSSettings: DoH (ServerURL) or DoT
// (ServerName).
type dnsSettings struct {
	DNSProtocol     string
	ServerURL       string   `plist:",omitempty"`
	ServerName      string   `plist:",omitempty"`
	ServerAddresses []string `plist:",omitempty"`
}

// settings is p's DNSSettings: DoH to dohURL when it has one, else DoT to
// its TLS name; ok is false when neither reaches it.
func (s *Server) settings(p *Profile, dohURL string) (_ dnsSettings, ok bool) {
	settings, addrs := dnsSettings{DNSProtocol: "HTTPS", ServerURL: dohURL}, p.DoHAddrs
	switch {
	case dohURL != "":
	case p.DoTHost != "" && s.cfg.DoTPort == 853: // Apple connects to 853 only
		settings, addrs = dnsSettings{DNSProtocol: "TLS", ServerName: p.DoTHost}, p.DoTAddrs
	default:
		return settings, false
	}
	for _, a := range addrs {
		settings.ServerAddresses = append(settings.ServerAddresses, a.String())
	}
	return settings, true
}

// mobileconfig builds p's configuration profile, signed when Config.Sign
// is set; ok is false when no encrypted endpoint reaches p.
func (s *Server) mobileconfig(p *Profile, dohURL string) (_ []byte, ok bool, _ error) {
	settings, ok := s.settings(p, dohURL)
	if !ok {
		return nil, false, nil
	}
	base := identifier(settings.ServerURL+settings.ServerName, p.Name)
	name := fmt.Sprintf(s.cfg.Text.MobileName, s.cfg.ServiceName, p.Name)
	desc := fmt.Sprintf(s.cfg.Text.MobileDesc, s.cfg.ServiceName, p.Name)
	keys := func(id, typ, part string) PayloadKeys {
		return PayloadKeys{
			PayloadDescription: desc, PayloadDisplayName: name, PayloadIdentifier: id, PayloadType: typ, PayloadVersion: 1,
			PayloadUUID:         strings.ToUpper(uuid.NewSHA1(uuidSpace, []byte(s.cfg.ServiceName+"\x00"+base+"\x00"+part)).String()),
			PayloadOrganization: s.cfg.ServiceName,
		}
	}
	prof := appleProfile{
		PayloadContent: []dnsPayload{{DNSSettings: settings, PayloadKeys: keys(base+".dns", "com.apple.dnsSettings.managed", "dns")}},
		PayloadKeys:    keys(base, "Configuration", "profile"),
	}
	b, err := plist.MarshalIndent(prof, plist.XMLFormat, "\t")
	if err != nil {
		return nil, false, fmt.Errorf("onboarding: mobileconfig: %w", err)
	}
	if s.cfg.Sign == nil {
		return b, true, nil
	}
	b, err = s.sign(b)
	return b, err == nil, err
}

// identifier is a reverse-DNS PayloadIdentifier for a profile reached at
// server (a URL or host name): "org.example.dns.dnsward.child".
func identifier(server, profile string) string {
	host := strings.TrimPrefix(server, "https://")
	host, _, _ = strings.Cut(host, "/")
	if h, _, ok := strings.Cut(host, ":"); ok && !strings.HasPrefix(host, "[") {
		host = h
	}
	labels := strings.FieldsFunc(strings.ToLower(host), func(r rune) bool { return !isIDChar(r) })
	slices.Reverse(labels)
	clean := strings.Map(func(r rune) rune {
		if isIDChar(r) {
			return r
		}
		return '-'
	}, profile)
	return strings.Join(append(labels, "dnsward", clean), ".")
}

func isIDChar(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-'
}

// sign wraps a profile in CMS SignedData with the server's certificate, its
// chain included, so that devices show who signed it. A signature costs
// about a millisecond (RSA) and the page is open to all, so signed files
// are kept (memo) by content and certificate: a renewed certificate signs
// afresh.
func (s *Server) sign(content []byte) ([]byte, error) {
	cert, err := s.cfg.Sign()
	if err != nil {
		return nil, fmt.Errorf("onboarding: signing certificate: %w", err)
	}
	if cert == nil || len(cert.Certificate) == 0 {
		return nil, fmt.Errorf("onboarding: no signing certificate")
	}
	leaf := sha256.Sum256(cert.Certificate[0])
	return s.signed.get(string(content)+"\x00"+string(leaf[:]), func() ([]byte, error) { return signWith(cert, content) })
}

// signWith wraps content in CMS SignedData with cert and its chain.
func signWith(cert *tls.Certificate, content []byte) ([]byte, error) {
	var err error
	chain := make([]*x509.Certificate, len(cert.Certificate))
	for i, der := range cert.Certificate {
		if chain[i], err = x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("onboarding: signing certificate: %w", err)
		}
	}
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		return nil, fmt.Errorf("onboarding: signing: %w", err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSignerChain(chain[0], cert.PrivateKey, chain[1:], pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("onboarding: signing: %w", err)
	}
	out, err := sd.Finish()
	if err != nil {
		return nil, fmt.Errorf("onboarding: signing: %w", err)
	}
	return out, nil
}
