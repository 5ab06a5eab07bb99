// Package scenarios embeds the shipped scenario library, so that
// `shoplab demo` and `shoplab hpa check` work from any directory.
package scenarios

import "embed"

// Files holds every shipped scenario (*.yaml) and schema.json.
//
//go:embed *.yaml schema.json
var Files embed.FS
