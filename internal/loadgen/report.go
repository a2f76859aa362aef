package loadgen

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Print writes the summary: qps, latency quantiles, errors and RCODEs.
func (r *Result) Print(w io.Writer) {
	fmt.Fprintf(w, "transport:   %s\n", r.Transport)
	fmt.Fprintf(w, "queries:     %d sent, %d answered in %.2fs\n", r.Sent, r.Answered, r.Elapsed.Seconds())
	fmt.Fprintf(w, "qps:         %.0f\n", r.QPS)
	fmt.Fprintf(w, "latency:     p50 %s  p99 %s  p99.9 %s  max %s\n", ms(r.P50), ms(r.P99), ms(r.P999), ms(r.Max))
	fmt.Fprintf(w, "errors:      %s\n", counts(r.Errors))
	fmt.Fprintf(w, "rcodes:      %s\n", counts(r.Rcodes))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond)) }

func counts(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
