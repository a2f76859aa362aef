package onboarding

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// qrSVG renders content as a QR code in SVG (medium error correction, the
// quiet zone included): one path of unit squares, black on white in light
// and dark themes alike, which every scanner reads. The
// markup holds only numbers and fixed text, never content itself, so it is
// safe to embed; label becomes the element's accessible name, escaped.
func qrSVG(content, label string) (template.HTML, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("onboarding: QR code: %w", err)
	}
	bm := q.Bitmap()
	var b strings.Builder
	n := strconv.Itoa(len(bm))
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" class="qr" role="img" viewBox="0 0 ` + n + " " + n + `" shape-rendering="crispEdges"><title>`)
	template.HTMLEscape(&b, []byte(label))
	b.WriteString(`</title><rect fill="#fff" width="` + n + `" height="` + n + `"/><path fill="#000" d="`)
	for y, row := range bm {
		for x, on := range row {
			if on {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x, y)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil
}
