package tfcheck

import (
	"fmt"
	"slices"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	dedupdynamodb "github.com/shoplab/shoplab/services/notification/adapters/dynamodb"
	productdynamodb "github.com/shoplab/shoplab/services/product/adapters/dynamodb"
)

// dynamoModule is where the tables are declared, relative to terraform/.
const dynamoModule = "aws/modules/dynamodb"

// tableLayout is what an adapter and Terraform must agree on for a table
// to work: its keys, attribute types, indexes and TTL attribute.
type tableLayout struct {
	Hash, Range string
	Attrs       []string // "name:type", sorted
	Indexes     []string // "name(hash,range,projection)", sorted
	TTL         string
}

// wantTables are the adapters' layouts by the module's resource name.
func wantTables() map[string]tableLayout {
	product := layoutOf(productdynamodb.TableInput("products"))
	dedup := layoutOf(dedupdynamodb.TableInput("dedup"))
	dedup.TTL = dedupdynamodb.TTLAttribute
	return map[string]tableLayout{"products": product, "dedup": dedup}
}

func layoutOf(in *dynamodb.CreateTableInput) tableLayout {
	var l tableLayout
	for _, k := range in.KeySchema {
		if k.KeyType == "HASH" {
			l.Hash = aws.ToString(k.AttributeName)
		} else {
			l.Range = aws.ToString(k.AttributeName)
		}
	}
	for _, a := range in.AttributeDefinitions {
		l.Attrs = append(l.Attrs, aws.ToString(a.AttributeName)+":"+string(a.AttributeType))
	}
	for _, g := range in.GlobalSecondaryIndexes {
		var hash, rng string
		for _, k := range g.KeySchema {
			if k.KeyType == "HASH" {
				hash = aws.ToString(k.AttributeName)
			} else {
				rng = aws.ToString(k.AttributeName)
			}
		}
		l.Indexes = append(l.Indexes, fmt.Sprintf("%s(%s,%s,%s)", aws.ToString(g.IndexName), hash, rng, g.Projection.ProjectionType))
	}
	sort.Strings(l.Attrs)
	sort.Strings(l.Indexes)
	return l
}

// CheckDynamoDBLayout compares each aws_dynamodb_table of
// terraform/aws/modules/dynamodb with the layout its adapter creates on
// the emulators (the product catalog's and notification's dedup): a table
// Terraform makes with other key names or indexes would fail every call
// the unit makes in AWS, while every test here passes.
func CheckDynamoDBLayout(tree *Tree) Problems {
	var p Problems
	m := tree.Modules[dynamoModule]
	if m == nil {
		return Problems{fmt.Sprintf("terraform/%s is missing", dynamoModule)}
	}
	got := map[string]tableLayout{}
	var names []string
	for _, file := range sortedFiles(m) {
		for _, b := range m.Files[file].Blocks {
			if b.Type == "resource" && len(b.Labels) == 2 && b.Labels[0] == "aws_dynamodb_table" {
				got[b.Labels[1]] = layoutFromHCL(b.Body)
				names = append(names, b.Labels[1])
			}
		}
	}
	for name, want := range wantTables() {
		have, ok := got[name]
		where := fmt.Sprintf("terraform/%s: aws_dynamodb_table.%s", dynamoModule, name)
		if !ok {
			p = append(p, fmt.Sprintf("%s is missing (declared: %v)", where, names))
			continue
		}
		if have.Hash != want.Hash || have.Range != want.Range {
			p = append(p, fmt.Sprintf("%s: key (%s, %s), the adapter uses (%s, %s)", where, have.Hash, have.Range, want.Hash, want.Range))
		}
		if !slices.Equal(have.Attrs, want.Attrs) {
			p = append(p, fmt.Sprintf("%s: attributes %v, the adapter defines %v", where, have.Attrs, want.Attrs))
		}
		if !slices.Equal(have.Indexes, want.Indexes) {
			p = append(p, fmt.Sprintf("%s: indexes %v, the adapter queries %v", where, have.Indexes, want.Indexes))
		}
		if have.TTL != want.TTL {
			p = append(p, fmt.Sprintf("%s: TTL on %q, the adapter expires items by %q", where, have.TTL, want.TTL))
		}
	}
	return p
}

func sortedFiles(m *Module) []string {
	files := make([]string, 0, len(m.Files))
	for f := range m.Files {
		files = append(files, f)
	}
	sort.Strings(files)
	return files
}

func layoutFromHCL(body *hclsyntax.Body) tableLayout {
	lit := func(b *hclsyntax.Body, name string) string {
		if a, ok := b.Attributes[name]; ok {
			s, _ := literalString(a.Expr)
			return s
		}
		return ""
	}
	l := tableLayout{Hash: lit(body, "hash_key"), Range: lit(body, "range_key")}
	for _, b := range body.Blocks {
		switch b.Type {
		case "attribute":
			l.Attrs = append(l.Attrs, lit(b.Body, "name")+":"+lit(b.Body, "type"))
		case "global_secondary_index":
			l.Indexes = append(l.Indexes, fmt.Sprintf("%s(%s,%s,%s)", lit(b.Body, "name"), lit(b.Body, "hash_key"), lit(b.Body, "range_key"), lit(b.Body, "projection_type")))
		case "ttl":
			l.TTL = lit(b.Body, "attribute_name")
		}
	}
	sort.Strings(l.Attrs)
	sort.Strings(l.Indexes)
	return l
}
