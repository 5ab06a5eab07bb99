package report

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoplab/shoplab/sim/scenario/journal"
)

// Every number on the page and in the JUnit file goes through these, with
// a fixed precision, so that a journal always renders to the same bytes.

// formatMs formats a latency in milliseconds.
func formatMs(ms float64) string {
	switch {
	case ms == 0:
		return "0 ms"
	case ms < 10:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 10000:
		return groupThousands(fmt.Sprintf("%.1f", ms)) + " ms"
	}
	return groupThousands(fmt.Sprintf("%.0f", ms)) + " ms"
}

// formatDur formats a load.Latency field.
func formatDur(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return formatMs(ms(d))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// formatValue formats a value on a chart axis's scale.
func formatValue(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return groupThousands(fmt.Sprintf("%.0f", v))
	case math.Abs(v) < 10:
		return fmt.Sprintf("%.2f", v)
	}
	return groupThousands(fmt.Sprintf("%.1f", v))
}

// formatTick formats an axis tick: ticks are round, so the shortest form.
func formatTick(v float64) string {
	v = math.Round(v*1e9) / 1e9 // 3 × 0.2 is 0.6000000000000001
	if v == math.Trunc(v) {
		return groupThousands(fmt.Sprintf("%.0f", v))
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// formatSeconds formats a time offset or a duration in seconds.
func formatSeconds(s float64) string {
	if s == math.Trunc(s) {
		return fmt.Sprintf("%.0f s", s)
	}
	return fmt.Sprintf("%.1f s", s)
}

func formatCount(n int64) string { return groupThousands(strconv.FormatInt(n, 10)) }

func formatPercent(r float64) string {
	switch {
	case r == 0:
		return "0%"
	case r < 0.001:
		return fmt.Sprintf("%.3f%%", 100*r)
	}
	return fmt.Sprintf("%.2f%%", 100*r)
}

func formatRate(perSecond float64) string { return fmt.Sprintf("%.1f/s", perSecond) }

// formatObserved formats a probe's value in its unit.
func formatObserved(v *float64, unit string) string {
	if v == nil {
		return "no data"
	}
	switch unit {
	case "ms":
		return formatMs(*v)
	case "ratio":
		return fmt.Sprintf("%.4f (%s)", *v, formatPercent(*v))
	case "req/s":
		return fmt.Sprintf("%.1f req/s", *v)
	case "count":
		return formatValue(*v)
	case "":
		return strconv.FormatFloat(*v, 'g', 6, 64)
	}
	return strconv.FormatFloat(*v, 'g', 6, 64) + " " + unit
}

// formatAttributes lists a fault's attributes sorted by name; values other
// than strings are shown as JSON, whose maps come out sorted too.
func formatAttributes(attrs map[string]any) string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		var v string
		switch a := attrs[k].(type) {
		case string:
			v = a
		case nil:
			v = "null"
		default:
			b, err := json.Marshal(a)
			if err != nil {
				b = []byte(fmt.Sprint(a))
			}
			v = string(b)
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ", ")
}

// groupThousands puts commas into the integer part of a number.
func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if len(intPart) > 3 {
		var b strings.Builder
		lead := len(intPart) % 3
		if lead > 0 {
			b.WriteString(intPart[:lead])
		}
		for i := lead; i < len(intPart); i += 3 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(intPart[i : i+3])
		}
		intPart = b.String()
	}
	if hasFrac {
		intPart += "." + frac
	}
	if neg {
		return "-" + intPart
	}
	return intPart
}

// expected is the journal's expected verdict, with the scenario default.
func expected(j *journal.Journal) string {
	if j.Expected == "" {
		return journal.Pass
	}
	return j.Expected
}
