package config_test

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/platform/config"
)

func TestParseFlagsBeatEnvBeatsDefaults(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("grpc-addr", "127.0.0.1:0", "")
	brokers := fs.String("kafka-brokers", "", "")
	lat := fs.Duration("processor-latency", 0, "")
	env := map[string]string{"SHOPLAB_GRPC_ADDR": "env:1", "SHOPLAB_KAFKA_BROKERS": "b:9092", "SHOPLAB_PROCESSOR_LATENCY": "20ms"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if err := config.Parse(fs, []string{"-grpc-addr", "flag:2"}, lookup); err != nil {
		t.Fatal(err)
	}
	if *addr != "flag:2" || *brokers != "b:9092" || *lat != 20*time.Millisecond {
		t.Fatalf("got %q %q %v", *addr, *brokers, *lat)
	}
	env["SHOPLAB_PROCESSOR_LATENCY"] = "soon"
	fs2 := flag.NewFlagSet("t", flag.ContinueOnError)
	fs2.Duration("processor-latency", 0, "")
	if err := config.Parse(fs2, nil, lookup); err == nil {
		t.Fatal("want an error naming SHOPLAB_PROCESSOR_LATENCY")
	}
}
