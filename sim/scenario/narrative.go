package scenario

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/shoplab/shoplab/sim/scenario/journal"
)

// Narrate writes, in plain words, what a run broke and what held: one line
// per fault, then every probe, recovery rule and invariant sorted into
// "held" and "did not hold". It reads only the journal, so a report of any
// run can be narrated the same way.
func Narrate(w io.Writer, j *journal.Journal) {
	var b strings.Builder
	if len(j.Faults) == 0 {
		b.WriteString("\nWhat was broken: nothing; this run injected no fault.\n")
	} else {
		b.WriteString("\nWhat was broken:\n")
		for _, f := range j.Faults {
			fmt.Fprintf(&b, "  - %s\n", describeFault(f))
		}
	}
	var held, broke []string
	for _, p := range j.Probes {
		if p.Skipped {
			continue
		}
		line := fmt.Sprintf("%s %s: observed %s against %s", p.Name, phaseWords(p.Phase), observed(p), p.Condition)
		if p.OK {
			held = append(held, line)
		} else {
			broke = append(broke, line)
		}
	}
	for _, r := range j.Recovery {
		line := fmt.Sprintf("%s: %s", r.Name, r.Detail)
		if r.OK {
			held = append(held, line)
		} else {
			broke = append(broke, line)
		}
	}
	for _, inv := range j.Invariants {
		line := fmt.Sprintf("%s: %s", strings.ReplaceAll(inv.Name, "_", " "), inv.Detail)
		if inv.OK {
			held = append(held, line)
		} else {
			broke = append(broke, line)
		}
	}
	if j.Aborted != nil {
		broke = append(broke, "the run was aborted: "+j.Aborted.Detail)
	}
	writeList(&b, "What held:", held)
	writeList(&b, "What did not hold:", broke)
	_, _ = io.WriteString(w, b.String())
}

func writeList(b *strings.Builder, title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	b.WriteString(title + "\n")
	for _, l := range lines {
		fmt.Fprintf(b, "  - %s\n", l)
	}
}

func observed(p journal.ProbeResult) string {
	if p.Observed == nil {
		return "no data"
	}
	return fmt.Sprintf("%.4g %s", *p.Observed, p.Unit)
}

func phaseWords(phase string) string {
	switch phase {
	case "before":
		return "before the faults"
	case "during":
		return "during the faults"
	case "after":
		return "after the faults"
	}
	return "throughout"
}

// describeFault says what a fault did to which part, and when.
func describeFault(f journal.FaultRecord) string {
	span := fmt.Sprintf("from %.0fs to %.0fs", f.Start, f.End)
	var what string
	switch f.Type {
	case "latency":
		what = fmt.Sprintf("every call on %s was slowed by %v", f.Target, f.Attributes["latency"])
		if j, ok := f.Attributes["jitter"]; ok {
			what += fmt.Sprintf(" (± %v)", j)
		}
	case "kill":
		what = fmt.Sprintf("the %s unit was killed, and started again after %.0fs", f.Target, f.End-f.Start)
	case "restart":
		return fmt.Sprintf("the %s unit was restarted at %.0fs", f.Target, f.Start)
	case "pause":
		what = fmt.Sprintf("the %s unit was paused", f.Target)
	case "down":
		what = fmt.Sprintf("the connection %s was cut", f.Target)
	default:
		what = fmt.Sprintf("%s on %s%s", strings.ReplaceAll(f.Type, "_", " "), f.Target, attrWords(f.Attributes))
	}
	s := fmt.Sprintf("%s: %s, %s", f.Name, what, span)
	if f.Error != "" {
		s += " (the fault could not be applied: " + f.Error + ")"
	}
	return s
}

func attrWords(attrs map[string]any) string {
	if len(attrs) == 0 {
		return ""
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %v", k, attrs[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
