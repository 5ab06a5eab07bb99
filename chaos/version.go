package chaos

import (
	"runtime/debug"
	"strings"
	"sync"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
)

const toxiproxyModule = "github.com/Shopify/toxiproxy/v2"

// toxiproxyRelease is the toxiproxy version go.mod requires, for binaries
// without module information (go test binaries carry none of their
// dependencies). TestToxiproxyReleaseMatchesGoMod keeps it in step.
const toxiproxyRelease = "2.12.0"

var setVersionOnce sync.Once

// setToxiproxyVersion gives the embedded toxiproxy the version its own
// release build stamps in (goreleaser's -X toxiproxy.Version=2.12.0), taken
// from the module version this binary was built with, so GET /version
// answers "2.12.0" and not the source default "git".
func setToxiproxyVersion() {
	setVersionOnce.Do(func() {
		if toxiproxy.Version == "git" {
			toxiproxy.Version = toxiproxyModuleVersion()
		}
	})
}

// toxiproxyModuleVersion is the toxiproxy module's version without its
// "v" ("2.12.0"): the one this binary was built with, or toxiproxyRelease
// when the binary carries no module information.
func toxiproxyModuleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return toxiproxyRelease
	}
	for _, d := range bi.Deps {
		if d.Path != toxiproxyModule {
			continue
		}
		if d.Replace != nil && d.Replace.Version != "" {
			d = d.Replace
		}
		if d.Version != "" && d.Version != "(devel)" {
			return strings.TrimPrefix(d.Version, "v")
		}
	}
	return toxiproxyRelease
}
