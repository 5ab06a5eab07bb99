package platform

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
)

// WriteJSON writes the timeline as timeline.json: the same document
// json.Marshal gives, laid out with one load point or unit point per line
// so that hours of simulation stay readable and diff line by line.
func (tl *Timeline) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriter(w)
	head := *tl
	head.Load, head.Units = nil, nil
	b, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return err
	}
	// Reopen the object: drop its closing brace and the null load/units.
	b = bytes.TrimSuffix(bytes.TrimSpace(b), []byte("}"))
	b = bytes.TrimSpace(b)
	b = bytes.TrimSuffix(b, []byte(`"units": null`))
	b = bytes.TrimSpace(b)
	b = bytes.TrimSuffix(b, []byte(","))
	b = bytes.TrimSpace(b)
	b = bytes.TrimSuffix(b, []byte(`"load": null`))
	b = bytes.TrimSpace(b)
	bw.Write(b)
	bw.WriteString("\n  \"load\": [")
	for i, p := range tl.Load {
		if err := writeLine(bw, i, "    ", p); err != nil {
			return err
		}
	}
	bw.WriteString("\n  ],\n  \"units\": [")
	for i, u := range tl.Units {
		uh := *u
		uh.Points = nil
		hb, err := json.MarshalIndent(uh, "    ", "  ")
		if err != nil {
			return err
		}
		hb = bytes.TrimSuffix(bytes.TrimSpace(hb), []byte("}"))
		hb = bytes.TrimSpace(hb)
		hb = bytes.TrimSuffix(hb, []byte(`"points": null`))
		hb = bytes.TrimSpace(hb)
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n    ")
		bw.Write(hb)
		bw.WriteString("\n      \"points\": [")
		for k, p := range u.Points {
			if err := writeLine(bw, k, "        ", p); err != nil {
				return err
			}
		}
		bw.WriteString("\n      ]\n    }")
	}
	bw.WriteString("\n  ]\n}\n")
	return bw.Flush()
}

func writeLine(bw *bufio.Writer, i int, indent string, v any) error {
	line, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if i > 0 {
		bw.WriteString(",")
	}
	bw.WriteString("\n" + indent)
	_, err = bw.Write(line)
	return err
}
