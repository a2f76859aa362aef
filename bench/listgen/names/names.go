// Package names generates realistic-looking block list names from a seed:
// the same seed always yields the same sequence. The mix follows what large
// lists (HaGeZi, OISD, URLhaus) hold: tracker and ad subdomains of ordinary
// sites, CDN-style hashed hosts, algorithmically generated malware domains,
// and multi-level country-code names.
package names

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

var (
	words = strings.Fields(`ads ad adserver analytics track tracker tracking pixel stats metrics telemetry beacon
		click clicks promo banner media cdn static img images api app events collect log logs sync match rtb bid
		bidder serve served delivery content video player shop news mail cloud data secure login account update
		web mobile m go link links tag tags smart micro global north euro asia best free top prime star blue red
		green net core edge fast quick open one my the get pro hub zone box lab labs works group digital online
		market trade pay bank crypto coin game games play bet casino win lucky bonus deal deals sale offer`)
	tlds   = strings.Fields("com com com com net net org info io xyz top ru de fr co.uk com.br in cn site online club biz pl nl it es co.jp com.au")
	cdns   = strings.Fields("cloudfront.net akamaihd.net azureedge.net fastly.net b-cdn.net herokuapp.com appspot.com firebaseapp.com github.io netlify.app")
	consos = "bcdfghjklmnpqrstvwxz"
	vowels = "aeiouy"
)

// Generator yields names; it is not safe for concurrent use.
type Generator struct {
	r *rand.Rand
	b strings.Builder
}

// New returns a generator for seed.
func New(seed uint64) *Generator {
	return &Generator{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (g *Generator) word() string { return words[g.r.IntN(len(words))] }

// site writes an ordinary second-level name: "bluemarket", "news-hub24".
func (g *Generator) site() {
	g.b.WriteString(g.word())
	switch g.r.IntN(4) {
	case 0:
		g.b.WriteByte('-')
		g.b.WriteString(g.word())
	case 1:
		g.b.WriteString(g.word())
	case 2:
		g.b.WriteString(strconv.Itoa(g.r.IntN(1000)))
	}
}

// pronounceable writes n letters alternating consonants and vowels, as DGAs do.
func (g *Generator) pronounceable(n int) {
	for i := range n {
		if i%2 == 0 {
			g.b.WriteByte(consos[g.r.IntN(len(consos))])
		} else {
			g.b.WriteByte(vowels[g.r.IntN(len(vowels))])
		}
	}
}

// Next returns the next name.
func (g *Generator) Next() string {
	g.b.Reset()
	switch k := g.r.IntN(100); {
	case k < 45: // tracker/ad subdomain of a site
		g.b.WriteString(g.word())
		if g.r.IntN(3) == 0 {
			g.b.WriteString(strconv.Itoa(g.r.IntN(100)))
		}
		g.b.WriteByte('.')
		if g.r.IntN(4) == 0 {
			g.b.WriteString(g.word())
			g.b.WriteByte('.')
		}
		g.site()
		g.b.WriteByte('.')
		g.b.WriteString(tlds[g.r.IntN(len(tlds))])
	case k < 60: // hashed CDN host
		const hex = "0123456789abcdef"
		for range 8 + g.r.IntN(9) {
			g.b.WriteByte(hex[g.r.IntN(16)])
		}
		g.b.WriteByte('.')
		g.b.WriteString(cdns[g.r.IntN(len(cdns))])
	case k < 85: // generated malware domain
		g.pronounceable(7 + g.r.IntN(10))
		g.b.WriteByte('.')
		g.b.WriteString(tlds[g.r.IntN(len(tlds))])
	default: // a whole site
		g.site()
		g.b.WriteByte('.')
		g.b.WriteString(tlds[g.r.IntN(len(tlds))])
	}
	return g.b.String()
}
