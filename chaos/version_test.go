package chaos

import (
	"os"
	"regexp"
	"testing"
)

func TestToxiproxyReleaseMatchesGoMod(t *testing.T) {
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/Shopify/toxiproxy/v2 v(\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod does not require github.com/Shopify/toxiproxy/v2")
	}
	if got := string(m[1]); got != toxiproxyRelease {
		t.Fatalf("go.mod requires toxiproxy v%s but toxiproxyRelease is %q: update chaos/version.go", got, toxiproxyRelease)
	}
}
