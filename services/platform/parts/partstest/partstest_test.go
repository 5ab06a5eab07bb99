package partstest

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// skipRecorder is a testing.TB whose Skipf records the message and ends
// the calling goroutine, as the real one does.
type skipRecorder struct {
	testing.TB
	skipped chan string
}

func (r *skipRecorder) Helper() {}
func (r *skipRecorder) Skipf(format string, args ...any) {
	r.skipped <- fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *skipRecorder) Fatalf(format string, args ...any) {
	r.skipped <- "FATAL: " + fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestNoPartsSkipsFastNamingWhatIsMissing: with no SHOPLAB_TEST_* address
// and no Docker engine, each helper skips within the probe's deadline and
// says which variable to set. Where an engine is healthy it starts
// containers instead, which this test does not want to pay for.
func TestNoPartsSkipsFastNamingWhatIsMissing(t *testing.T) {
	if err := dockerHealthy(); err == nil {
		t.Skip("a Docker engine is healthy here: the helpers would start containers, not skip")
	}
	for _, c := range []struct {
		envVar string
		call   func(tb testing.TB)
	}{
		{EnvPostgresDSN, func(tb testing.TB) { Postgres(tb) }},
		{EnvKafka, func(tb testing.TB) { KafkaBrokers(tb) }},
		{EnvAWSEndpoint, func(tb testing.TB) { AWSEndpoint(tb) }},
	} {
		t.Setenv(c.envVar, "")
		r := &skipRecorder{TB: t, skipped: make(chan string, 1)}
		start := time.Now()
		go func() {
			c.call(r)
			r.skipped <- "returned without skipping"
		}()
		var msg string
		select {
		case msg = <-r.skipped:
		case <-time.After(2 * dockerProbeTimeout):
			t.Fatalf("%s: no skip within %s", c.envVar, 2*dockerProbeTimeout)
		}
		if !strings.Contains(msg, c.envVar) || !strings.Contains(msg, "Docker engine") {
			t.Errorf("%s: skip message %q should name the variable and the missing Docker engine", c.envVar, msg)
		}
		t.Logf("%s: skipped after %s: %s", c.envVar, time.Since(start).Round(time.Millisecond), msg)
	}
}

// TestGivenAddressesWinOverContainers: the SHOPLAB_TEST_* addresses are
// handed out as given, without asking Docker (what CI does).
func TestGivenAddressesWinOverContainers(t *testing.T) {
	t.Setenv(EnvKafka, "127.0.0.1:1,127.0.0.1:2")
	t.Setenv(EnvAWSEndpoint, "http://127.0.0.1:3")
	if got := KafkaBrokers(t); len(got) != 2 || got[0] != "127.0.0.1:1" || got[1] != "127.0.0.1:2" {
		t.Errorf("KafkaBrokers = %v", got)
	}
	if got := AWSEndpoint(t); got != "http://127.0.0.1:3" {
		t.Errorf("AWSEndpoint = %q", got)
	}
}
