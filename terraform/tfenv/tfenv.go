// Package tfenv fills an env file (envs/aws-<env>.yaml) with the addresses
// from `terraform output -json` of terraform/aws/envs/<env>, and refuses when
// a name Terraform created differs from the file's: names are the env
// file's, addresses are Terraform's.
package tfenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// output is one entry of `terraform output -json`.
type output struct {
	Value json.RawMessage `json:"value"`
}

// Outputs are the outputs of terraform/aws/envs/<env> that the env file
// holds.
type Outputs struct {
	Env           string
	Region        string
	KafkaBrokers  string
	PostgresAddr  string
	ProductsTable string
	DedupTable    string
	AnalyticsBkt  string
	Sender        string
	Databases     map[string]string
	TopicsByKey   map[string]string
}

// ParseOutputs reads `terraform output -json`.
func ParseOutputs(b []byte) (*Outputs, error) {
	var raw map[string]output
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, bad("tf-output", "not `terraform output -json`: "+err.Error())
	}
	o := &Outputs{}
	str := map[string]*string{
		"env": &o.Env, "region": &o.Region, "kafka_bootstrap_brokers": &o.KafkaBrokers,
		"postgres_address": &o.PostgresAddr, "dynamodb_products_table": &o.ProductsTable,
		"dynamodb_dedup_table": &o.DedupTable, "s3_analytics_bucket": &o.AnalyticsBkt, "ses_sender": &o.Sender,
	}
	for name, dst := range str {
		r, ok := raw[name]
		if !ok {
			return nil, bad("tf-output", "output "+name+" is missing")
		}
		if err := json.Unmarshal(r.Value, dst); err != nil || *dst == "" {
			return nil, bad("tf-output", "output "+name+" is not a non-empty string")
		}
	}
	if r, ok := raw["postgres_databases"]; !ok || json.Unmarshal(r.Value, &o.Databases) != nil {
		return nil, bad("tf-output", "output postgres_databases is missing or not a map of strings")
	}
	var topics map[string]struct {
		Name string `json:"name"`
	}
	if r, ok := raw["kafka_topics"]; !ok || json.Unmarshal(r.Value, &topics) != nil {
		return nil, bad("tf-output", "output kafka_topics is missing or not a map of {name}")
	}
	o.TopicsByKey = map[string]string{}
	for k, t := range topics {
		o.TopicsByKey[k] = t.Name
	}
	return o, nil
}

// Apply returns envYAML with kafka.brokers and postgres.address set from o,
// comments and everything else kept. It fails, naming the field, when the
// env file's name differs from o's or a name in the file differs from the
// one Terraform created.
func Apply(envYAML []byte, o *Outputs) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(envYAML, &doc); err != nil {
		return nil, bad("env file", err.Error())
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, bad("env file", "not a YAML mapping")
	}
	root := doc.Content[0]
	checks := []struct {
		path []string
		want string
	}{
		{[]string{"name"}, o.Env},
		{[]string{"aws", "region"}, o.Region},
		{[]string{"aws", "dynamodb", "products_table"}, o.ProductsTable},
		{[]string{"aws", "dynamodb", "dedup_table"}, o.DedupTable},
		{[]string{"aws", "s3", "analytics_bucket"}, o.AnalyticsBkt},
		{[]string{"aws", "ses", "sender"}, o.Sender},
	}
	for unit, db := range o.Databases {
		checks = append(checks, struct {
			path []string
			want string
		}{[]string{"postgres", "databases", unit}, db})
	}
	for key, name := range o.TopicsByKey {
		checks = append(checks, struct {
			path []string
			want string
		}{[]string{"kafka", "topics", key, "name"}, name})
	}
	for _, c := range checks {
		n := lookup(root, c.path)
		field := strings.Join(c.path, ".")
		if n == nil {
			return nil, bad(field, "missing in the env file, terraform created "+c.want)
		}
		if n.Value != c.want {
			return nil, bad(field, fmt.Sprintf("env file says %q, terraform created %q", n.Value, c.want))
		}
	}
	brokers := lookup(root, []string{"kafka", "brokers"})
	addr := lookup(root, []string{"postgres", "address"})
	if brokers == nil || addr == nil {
		return nil, bad("env file", "needs kafka.brokers and postgres.address to fill")
	}
	brokers.Kind, brokers.Tag, brokers.Content = yaml.SequenceNode, "!!seq", nil
	brokers.Style = yaml.FlowStyle
	for _, b := range strings.Split(o.KafkaBrokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers.Content = append(brokers.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: b})
		}
	}
	addr.Value = o.PostgresAddr
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return out.Bytes(), enc.Close()
}

func lookup(n *yaml.Node, path []string) *yaml.Node {
	for _, key := range path {
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

func bad(field, msg string) error { return errs.InvalidField(field, "%s", msg) }
