package filter

import "strings"

// Safe search: a search engine's own names answered as a CNAME to the host
// where the provider enforces safe results (documented by each provider):
//   - Google: forcesafesearch.google.com, for google.com and every country
//     domain (www. and bare);
//   - YouTube: restrict.youtube.com (Restricted Mode, strict);
//   - Bing: strict.bing.com;
//   - DuckDuckGo: safe.duckduckgo.com;
//   - Yandex: familysearch.yandex.ru;
//   - Brave Search: forcesafe.search.brave.com;
//   - Pixabay: safesearch.pixabay.com.
var safeSearch = buildSafeSearch()

// googleTLDs are the suffixes of Google's country search domains
// (www.google.com/supported_domains).
const googleTLDs = "com ad ae com.af com.ag al am co.ao com.ar as at com.au az ba com.bd be bf bg com.bh bi bj " +
	"com.bn com.bo com.br bs bt co.bw by com.bz ca cd cf cg ch ci co.ck cl cm cn com.co co.cr com.cu cv com.cy cz " +
	"de dj dk dm com.do dz com.ec ee com.eg es com.et fi com.fj fm fr ga ge gg com.gh com.gi gl gm gr com.gt gy " +
	"com.hk hn hr ht hu co.id ie co.il im co.in iq is it je com.jm jo co.jp co.ke com.kh ki kg co.kr com.kw kz la " +
	"com.lb li lk co.ls lt lu lv com.ly co.ma md me mg mk ml com.mm mn com.mt mu mv mw com.mx com.my co.mz com.na " +
	"com.ng com.ni ne nl no com.np nr nu co.nz com.om com.pa com.pe com.pg com.ph com.pk pl pn com.pr ps pt " +
	"com.py com.qa ro ru rw com.sa com.sb sc se com.sg sh si sk com.sl sn so sm sr st com.sv td tg co.th com.tj " +
	"tl tm tn to com.tr tt com.tw co.tz com.ua co.ug co.uk com.uy co.uz com.vc co.ve co.vi com.vn vu ws rs " +
	"co.za co.zm co.zw cat"

func buildSafeSearch() map[string]string {
	m := map[string]string{}
	for _, tld := range strings.Fields(googleTLDs) {
		m["google."+tld] = "forcesafesearch.google.com"
		m["www.google."+tld] = "forcesafesearch.google.com"
	}
	for target, names := range map[string]string{
		"restrict.youtube.com":       "www.youtube.com m.youtube.com youtubei.googleapis.com youtube.googleapis.com www.youtube-nocookie.com",
		"strict.bing.com":            "bing.com www.bing.com",
		"safe.duckduckgo.com":        "duckduckgo.com www.duckduckgo.com start.duckduckgo.com",
		"familysearch.yandex.ru":     "yandex.ru www.yandex.ru yandex.com www.yandex.com yandex.by yandex.kz yandex.com.tr yandex.ua",
		"forcesafe.search.brave.com": "search.brave.com",
		"safesearch.pixabay.com":     "pixabay.com www.pixabay.com",
	} {
		for _, n := range strings.Fields(names) {
			m[n] = target
		}
	}
	return m
}

// SafeSearchTarget returns the enforced host for a search engine name
// (lower-case, trailing dot optional), or "" if safe search does not touch it.
func SafeSearchTarget(name string) string {
	return safeSearch[strings.TrimSuffix(name, ".")]
}
