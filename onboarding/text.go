package onboarding

import "github.com/dnsward/dnsward/internal/transport"

// Text holds every sentence the setup pages show, so that a translation
// is one more value of this type. Strings with %s take the arguments their
// comment names, in order.
type Text struct {
	Lang           string // the pages' lang attribute
	Title          string // %s: service name
	Intro          string // %s: service name
	ProfilesHeader string
	ProfileHeader  string // %s: profile name
	Default        string
	Blocks         string
	BlocksNothing  string
	SafeSearch     string
	Copy           string
	Copied         string
	Unavailable    string

	Browsers      string
	ChromeHowTo   string
	FirefoxHowTo  string
	Android       string
	AndroidHowTo  string
	AndroidPort   string // %d: the DoT port
	AndroidNoHost string
	Apple         string
	AppleHowTo    string
	AppleDownload string
	AppleSigned   string
	MobileName    string // the .mobileconfig's PayloadDisplayName; %s: service name, profile
	MobileDesc    string // its PayloadDescription; %s: service name, profile
	Windows       string
	WindowsHowTo  string
	AddrNote      string
	Linux         string
	LinuxHowTo    string
	Plain         string
	PlainHowTo    string
	PlainPort     string // %d: the plain-DNS port
	DDR           string
	QRDoH         string
	QRHost        string
	AddrHolder    string // stands for an address the page does not know

	CheckHeader     string
	CheckRunning    string
	CheckNoScript   string
	CheckLink       string
	CheckUsing      string // %s: service name, profile, transport
	CheckNotUsing   string // %s: service name
	CheckAgain      string
	CheckTitle      string
	ContactHeader   string
	Privacy         string
	NotFound        string
	BackToSetup     string
	TransportLabels [transport.Last + 1]string
}

// English is the setup pages' text in English, the default.
var English = Text{
	Lang:           "en",
	Title:          "Set up %s",
	Intro:          "%s is an encrypted DNS resolver. Pick a profile below and follow the steps for your device: your DNS queries then travel encrypted and the profile's filter applies to them.",
	ProfilesHeader: "Profiles",
	ProfileHeader:  "Profile %s",
	Default:        "default",
	Blocks:         "Blocks:",
	BlocksNothing:  "Blocks nothing: answers are not filtered.",
	SafeSearch:     "safe search is enforced on search engines and video sites",
	Copy:           "Copy",
	Copied:         "Copied",
	Unavailable:    "Not available for this profile.",

	Browsers:      "Browsers",
	ChromeHowTo:   "Chrome and Edge: Settings → Privacy and security → Security → Use secure DNS → With: Custom, then paste this URL.",
	FirefoxHowTo:  "Firefox: Settings → Privacy & Security → DNS over HTTPS → Max Protection → Choose provider: Custom, then paste the same URL.",
	Android:       "Android 9 and later (Private DNS)",
	AndroidHowTo:  "Settings → Network & internet → Private DNS → Private DNS provider hostname, then enter:",
	AndroidPort:   "Android connects to port 853 only; this server's DNS over TLS listens on port %d.",
	AndroidNoHost: "Not available: no host name selects this profile.",
	Apple:         "iPhone, iPad and Mac",
	AppleHowTo:    "Download the configuration profile, then open Settings → General → VPN & Device Management (iOS) or System Settings → Privacy & Security → Profiles (macOS) to install it.",
	AppleDownload: "Download the profile",
	AppleSigned:   "The profile is signed with this server's certificate.",
	MobileName:    "%s (%s)",
	MobileDesc:    "Encrypted DNS through %s, profile %s.",
	Windows:       "Windows 11",
	WindowsHowTo:  "In an administrator terminal, register the DoH template for the server address, then set that address as the DNS server of your network adapter with DNS over HTTPS: On (automatic template).",
	AddrNote:      "Replace ADDRESS with an address of the host name above.",
	Linux:         "Linux (systemd-resolved)",
	LinuxHowTo:    "Put these lines in /etc/systemd/resolved.conf.d/dns.conf, then run systemctl restart systemd-resolved:",
	Plain:         "Routers and other devices (plain DNS)",
	PlainHowTo:    "Set these as your DNS servers (unencrypted; the profile is chosen by the address):",
	PlainPort:     "on port %d",
	DDR:           "Devices that discover encrypted DNS by themselves (DDR, _dns.resolver.arpa: recent iOS, macOS and Windows 11) switch from these addresses to this profile's encrypted endpoints.",
	QRDoH:         "QR code of the DoH URL",
	QRHost:        "QR code of the Private DNS host name",
	AddrHolder:    "ADDRESS",

	CheckHeader:   "Am I protected?",
	CheckRunning:  "Checking…",
	CheckNoScript: "Without JavaScript, wait a moment for this page to finish loading, then:",
	CheckLink:     "show the result",
	CheckUsing:    "You are using %s, profile %s, over %s.",
	CheckNotUsing: "You are not using %s.",
	CheckAgain:    "Check again",
	CheckTitle:    "Check result",
	ContactHeader: "Contact",
	Privacy:       "Privacy policy",
	NotFound:      "not found",
	BackToSetup:   "Back to the setup page",
	TransportLabels: [...]string{
		transport.UDP: "plain DNS (UDP)", transport.TCP: "plain DNS (TCP)", transport.DoT: "DNS over TLS",
		transport.DoH1: "DNS over HTTPS (HTTP/1.1)", transport.DoH2: "DNS over HTTPS (HTTP/2)",
		transport.DoH3: "DNS over HTTPS (HTTP/3)", transport.DoQ: "DNS over QUIC",
	},
}

// transportLabel names t in t's words, or its metric label.
func (t *Text) transportLabel(k transport.Kind) string {
	if int(k) < len(t.TransportLabels) && t.TransportLabels[k] != "" {
		return t.TransportLabels[k]
	}
	return k.String()
}
