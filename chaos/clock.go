package chaos

import (
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"time"
)

// Clock is the engine's source of time: fault start and end times and the
// timers that end faults with a Duration. Tests pass a fake to end faults
// without waiting. Injected delays (latency) are real time, as toxiproxy's are.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine (or, for a fake, from the
	// goroutine that advances time) once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop cancels the call; it reports whether it did so before f ran.
	Stop() bool
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// nowClock is the wall clock's timers with someone else's Now.
type nowClock struct{ now func() time.Time }

func (c nowClock) Now() time.Time { return c.now() }

func (nowClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// decider is one fault's stream of random decisions. Each fault gets its
// own, derived from the engine's seed and the fault's name, so concurrent
// faults never shift each other's sequences and the same seed and names
// replay the same decisions.
type decider struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newDecider(seed int64, name string) *decider {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return &decider{r: rand.New(rand.NewPCG(uint64(seed), h.Sum64()))}
}

// hit draws one decision: true with probability rate. It always draws, so
// every matching operation consumes exactly one value of the stream.
func (d *decider) hit(rate float64) bool {
	d.mu.Lock()
	v := d.r.Float64()
	d.mu.Unlock()
	return v < rate
}

// jitter draws a uniform offset within [-j, j].
func (d *decider) jitter(j time.Duration) time.Duration {
	if j <= 0 {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return time.Duration(d.r.Int64N(2*int64(j)+1)) - j
}
