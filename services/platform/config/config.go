// Package config reads a unit's settings once, at the edge: command-line
// flags first, then SHOPLAB_* environment variables for flags not given
// (flag "kafka-brokers" <- SHOPLAB_KAFKA_BROKERS), then the flag defaults.
package config

import (
	"flag"
	"fmt"
	"strings"
)

// EnvName returns the environment variable that backs flag name.
func EnvName(name string) string {
	return "SHOPLAB_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(name))
}

// Parse parses args into fs, then fills every flag not set on the command
// line from lookup(EnvName(flag)) (pass os.LookupEnv at the edge). A bad
// environment value is an error that names the variable.
func Parse(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] || lookup == nil {
			return
		}
		if v, ok := lookup(EnvName(f.Name)); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", EnvName(f.Name), v, serr)
			}
		}
	})
	return err
}
