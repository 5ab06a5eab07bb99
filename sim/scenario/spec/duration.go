package spec

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as a Go duration string ("90s",
// "400ms", "1m30s") in YAML and JSON. A bare number is refused: it has no
// unit, and guessing one is how a 30-second fault becomes a 30-ms one.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d as time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// ParseDuration reads a non-negative Go duration string.
func ParseDuration(s string) (Duration, error) {
	if s == "" || strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("must be a duration such as \"30s\" or \"400ms\", not %q", s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("must be a duration such as \"30s\" or \"400ms\", not %q", s)
	}
	return Duration(d), nil
}

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		hint := ""
		if n.Tag == "!!int" || n.Tag == "!!float" {
			hint = " (a bare number has no unit)"
		}
		return fmt.Errorf("must be a duration such as \"30s\" or \"400ms\", not %s%s", describeNode(n), hint)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("must be a duration such as \"30s\" or \"400ms\", not %s", b)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Bound is one side of a threshold, in the metric's base unit: a latency
// bound is written as a duration ("900ms") and held in seconds; the other
// metrics' bounds are plain numbers.
type Bound struct {
	Value      float64 // seconds for a duration
	IsDuration bool    // written as a duration
}

// DurationBound returns the bound d, for a latency metric.
func DurationBound(d time.Duration) *Bound { return &Bound{Value: d.Seconds(), IsDuration: true} }

// NumberBound returns the bound v, for a metric that is not a latency.
func NumberBound(v float64) *Bound { return &Bound{Value: v} }

// Duration returns a duration bound as a time.Duration.
func (b Bound) Duration() time.Duration {
	return time.Duration(math.Round(b.Value * float64(time.Second)))
}

// String writes the bound as a file does.
func (b Bound) String() string {
	if b.IsDuration {
		return b.Duration().String()
	}
	return strconv.FormatFloat(b.Value, 'g', -1, 64)
}

// MarshalYAML writes a duration string or a number.
func (b Bound) MarshalYAML() (any, error) {
	if b.IsDuration {
		return b.Duration().String(), nil
	}
	return b.Value, nil
}

// UnmarshalYAML reads a duration string or a number.
func (b *Bound) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		switch n.Tag {
		case "!!str":
			d, err := ParseDuration(n.Value)
			if err != nil {
				return fmt.Errorf("must be a number, or a duration such as \"900ms\" for a latency, not %q", n.Value)
			}
			*b = Bound{Value: d.Std().Seconds(), IsDuration: true}
			return nil
		case "!!int", "!!float":
			var f float64
			if err := n.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("must be a finite number, not %s", n.Value)
			}
			*b = Bound{Value: f}
			return nil
		}
	}
	return fmt.Errorf("must be a number, or a duration such as \"900ms\" for a latency, not %s", describeNode(n))
}

// MarshalJSON writes a duration string or a number.
func (b Bound) MarshalJSON() ([]byte, error) {
	if b.IsDuration {
		return json.Marshal(b.Duration().String())
	}
	return json.Marshal(b.Value)
}

// UnmarshalJSON reads a duration string or a number.
func (b *Bound) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		d, err := ParseDuration(s)
		if err != nil {
			return err
		}
		*b = Bound{Value: d.Std().Seconds(), IsDuration: true}
		return nil
	}
	var f float64
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("must be a number, or a duration such as \"900ms\" for a latency, not %s", data)
	}
	*b = Bound{Value: f}
	return nil
}

// describeNode names what a YAML node holds, for error messages.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!null":
		return "empty (null)"
	case "!!str":
		return strconv.Quote(n.Value)
	}
	return n.Value
}
