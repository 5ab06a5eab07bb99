package load

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestNewValidatesTheConfig(t *testing.T) {
	good := func() Config {
		return Config{BaseURL: "http://127.0.0.1:8080", Executor: ConstantArrivalRate, Rate: 10, Duration: time.Second, Customers: 1, Journeys: map[string]float64{JourneyBrowse: 1, JourneyCheckout: 1}}
	}
	for _, tt := range []struct {
		name   string
		modify func(*Config)
		want   string // substring of the error; "" means valid
	}{
		{"valid constant", func(*Config) {}, ""},
		{"valid ramping", func(c *Config) {
			c.Executor, c.Rate, c.Duration, c.StartRate, c.Stages = RampingArrivalRate, 0, 0, 1, []Stage{{Target: 5, Duration: time.Second}}
		}, ""},
		{"ramping with matching duration", func(c *Config) {
			c.Executor, c.Rate, c.Stages = RampingArrivalRate, 0, []Stage{{Target: 5, Duration: time.Second}}
		}, ""},
		{"no base URL", func(c *Config) { c.BaseURL = "" }, "base URL"},
		{"relative base URL", func(c *Config) { c.BaseURL = "/api" }, "base URL"},
		{"unknown executor", func(c *Config) { c.Executor = "per-vu-iterations" }, "executor"},
		{"zero rate", func(c *Config) { c.Rate = 0 }, "rate must be > 0"},
		{"NaN rate", func(c *Config) { c.Rate = math.NaN() }, "finite rate"},
		{"huge rate", func(c *Config) { c.Rate = 1e9 }, "above the limit"},
		{"no duration", func(c *Config) { c.Duration = 0 }, "duration must be > 0"},
		{"stages on constant", func(c *Config) { c.Stages = []Stage{{Target: 1, Duration: time.Second}} }, "stages and start_rate"},
		{"ramping without stages", func(c *Config) { c.Executor, c.Rate, c.Duration = RampingArrivalRate, 0, 0 }, "at least one stage"},
		{"ramping stage without duration", func(c *Config) {
			c.Executor, c.Rate, c.Duration, c.Stages = RampingArrivalRate, 0, 0, []Stage{{Target: 5}}
		}, "stages[0].duration"},
		{"ramping with another duration", func(c *Config) {
			c.Executor, c.Rate, c.Duration, c.Stages = RampingArrivalRate, 0, 5*time.Second, []Stage{{Target: 5, Duration: time.Second}}
		}, "differs from the sum"},
		{"negative target", func(c *Config) {
			c.Executor, c.Rate, c.Duration, c.Stages = RampingArrivalRate, 0, 0, []Stage{{Target: -5, Duration: time.Second}}
		}, "stages[0].target"},
		{"negative max in flight", func(c *Config) { c.MaxInFlight = -1 }, "max_in_flight"},
		{"negative customers", func(c *Config) { c.Customers = -1 }, "customers"},
		{"unknown journey", func(c *Config) { c.Journeys = map[string]float64{"shoplift": 1} }, `unknown journey "shoplift"`},
		{"no journeys", func(c *Config) { c.Journeys = nil }, "at least one journey"},
		{"zero weights", func(c *Config) { c.Journeys = map[string]float64{JourneyBrowse: 0} }, "add up to more than 0"},
		{"negative weight", func(c *Config) { c.Journeys = map[string]float64{JourneyBrowse: -1} }, "weight"},
		{"checkout without customers", func(c *Config) { c.Customers = 0 }, `"checkout" needs customers`},
		{"negative request timeout", func(c *Config) { c.RequestTimeout = -time.Second }, "request timeout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good()
			tt.modify(&cfg)
			r, err := New(cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("New accepted the config, want an error with %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("New: %v, want an error with %q", err, tt.want)
			}
			if r != nil {
				r.Close()
			}
		})
	}
}

func TestNewFillsDefaults(t *testing.T) {
	r := mustRunner(t, Config{BaseURL: "http://127.0.0.1:1", Executor: ConstantArrivalRate, Rate: 1, Duration: time.Second, Journeys: map[string]float64{JourneyBrowse: 1}})
	if r.cfg.MaxInFlight != DefaultMaxInFlight || r.cfg.RequestTimeout != DefaultRequestTimeout {
		t.Errorf("defaults: max in flight %d, request timeout %s", r.cfg.MaxInFlight, r.cfg.RequestTimeout)
	}
	if r.hc.Timeout != DefaultRequestTimeout {
		t.Errorf("the shared client's timeout is %s, want %s", r.hc.Timeout, DefaultRequestTimeout)
	}
}
