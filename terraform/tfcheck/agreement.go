package tfcheck

import (
	"crypto/sha256"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/zclconf/go-cty/cty"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"

	"github.com/shoplab/shoplab/argocd"
	"github.com/shoplab/shoplab/envs"
)

// envFile is the part of envs/aws-<env>.yaml that Terraform must agree
// with, keyed as the Terraform variables are (topics and databases by the
// env file's keys).
type envFile struct {
	Kafka struct {
		Topics map[string]envs.Topic
	}
	Postgres struct {
		User      string
		Databases map[string]string
	}
	AWS envs.AWS
}

// envFileOf takes the names Terraform must agree with from a loaded env.
func envFileOf(e *envs.Env) envFile {
	ef := envFile{AWS: e.AWS}
	ef.Kafka.Topics = map[string]envs.Topic{
		"orders": e.Kafka.Topics.Orders, "analytics_results": e.Kafka.Topics.AnalyticsResults, "orders_dlq": e.Kafka.Topics.OrdersDLQ,
	}
	if e.Postgres != nil {
		ef.Postgres.User = e.Postgres.User
		ef.Postgres.Databases = map[string]string{"user": e.Postgres.Databases.User, "order": e.Postgres.Databases.Order, "payment": e.Postgres.Databases.Payment}
	}
	return ef
}

// DefaultFlinkVersion is the Flink the job pins while
// services/analytics/flink/pom.xml does not exist yet.
const DefaultFlinkVersion = "2.2.0"

// DataprocFlink is the Flink version each Dataproc image ships, from
// Google's "3.0.x release image versions" page (committed, not fetched).
var DataprocFlink = map[string]string{
	"3.0.0-debian13": "2.2.0", "3.0.0-ubuntu24": "2.2.0", "3.0.0-rocky9": "2.2.0",
	"3.0.1-debian13": "2.2.0", "3.0.1-ubuntu24": "2.2.0", "3.0.1-rocky9": "2.2.0",
	"3.0.2-debian13": "2.2.0", "3.0.2-ubuntu24": "2.2.0", "3.0.2-rocky9": "2.2.0",
	"3.0.3-debian13": "2.2.0", "3.0.3-ubuntu24": "2.2.0", "3.0.3-rocky9": "2.2.0",
}

// NodeAllocatable is what an EKS node of each instance type offers pods
// (AL2023 kubelet reservations and eviction threshold subtracted), minus the
// DaemonSets on every node (aws-node, kube-proxy, eks-pod-identity-agent).
var NodeAllocatable = map[string]struct{ MilliCPU, MiB int64 }{
	"t3.large":  {MilliCPU: 1930 - 200, MiB: 7100 - 300},
	"m6i.large": {MilliCPU: 1930 - 200, MiB: 7100 - 300},
}

// ClusterSystem is what runs once per cluster besides the units: CoreDNS
// (2 replicas) and the AWS Load Balancer Controller (2 replicas).
var ClusterSystem = struct{ MilliCPU, MiB int64 }{MilliCPU: 400, MiB: 400}

var flinkVersionRE = regexp.MustCompile(`<flink\.version>\s*([^<\s]+)\s*</flink\.version>`)

// JobFlinkVersion is the Flink version the job pins: the flink.version
// property of services/analytics/flink/pom.xml, or DefaultFlinkVersion
// while that file does not exist.
func JobFlinkVersion(repo string) (string, string, error) {
	path := filepath.Join(repo, "services", "analytics", "flink", "pom.xml")
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return DefaultFlinkVersion, "tfcheck.DefaultFlinkVersion (no " + path + ")", nil
	}
	if err != nil {
		return "", "", err
	}
	m := flinkVersionRE.FindSubmatch(b)
	if m == nil {
		return "", "", fmt.Errorf("%s: no <flink.version> property", path)
	}
	return string(m[1]), path, nil
}

// CheckAgreement compares terraform/{aws,gcp}/envs/* of the repository at
// repo with envs/aws-<env>.yaml, argocd/overlays/<env>, the given event topic
// names (services/api/events) and the Flink job's version.
func CheckAgreement(repo string, eventTopics []string) (Problems, error) {
	tree, err := Load(filepath.Join(repo, "terraform"))
	if err != nil {
		return nil, err
	}
	flink, flinkFrom, err := JobFlinkVersion(repo)
	if err != nil {
		return nil, err
	}
	p := CheckDynamoDBLayout(tree)
	for _, env := range []string{"dev", "prod"} {
		// The units' own loader, strict and validated: a file Terraform
		// agrees with but the units refuse is a finding too.
		loaded, err := envs.Load(filepath.Join(repo, "envs", "aws-"+env+".yaml"))
		if err != nil {
			p = append(p, err.Error())
			continue
		}
		ef := envFileOf(loaded)
		aws := tree.Modules["aws/envs/"+env]
		if aws == nil {
			p = append(p, fmt.Sprintf("terraform/aws/envs/%s is missing", env))
		} else {
			ep, err := checkAWSEnv(repo, env, aws, &ef, eventTopics)
			if err != nil {
				return nil, err
			}
			p = append(p, ep...)
		}
		gcp := tree.Modules["gcp/envs/"+env]
		if gcp == nil {
			p = append(p, fmt.Sprintf("terraform/gcp/envs/%s is missing", env))
		} else {
			gp, err := checkGCPEnv(env, gcp, &ef, eventTopics, flink, flinkFrom)
			if err != nil {
				return nil, err
			}
			p = append(p, gp...)
		}
	}
	return p, nil
}

func checkAWSEnv(repo, env string, m *Module, ef *envFile, eventTopics []string) (Problems, error) {
	e, err := Evaluate(m)
	if err != nil {
		return nil, err
	}
	p := append(Problems(nil), e.Errors...)
	where := "terraform/aws/envs/" + env
	file := "envs/aws-" + env + ".yaml"
	eqFrom := func(src, what, tf, want string) {
		if tf != want {
			p = append(p, fmt.Sprintf("%s: %s is %q, %s says %q", where, what, tf, src, want))
		}
	}
	eq := func(what, tf, want string) { eqFrom(file, what, tf, want) }
	overlay := "argocd/overlays/" + env
	eq("module.dynamodb.products_table_name (aws.dynamodb.products_table)", e.str("dynamodb", "products_table_name"), ef.AWS.DynamoDB.ProductsTable)
	eq("module.dynamodb.dedup_table_name (aws.dynamodb.dedup_table)", e.str("dynamodb", "dedup_table_name"), ef.AWS.DynamoDB.DedupTable)
	eq("module.s3.bucket_name (aws.s3.analytics_bucket)", e.str("s3", "bucket_name"), ef.AWS.S3.AnalyticsBucket)
	eq("module.ses.sender (aws.ses.sender)", e.str("ses", "sender"), ef.AWS.SES.Sender)
	eq("module.rds.master_username (postgres.user)", e.str("rds", "master_username"), ef.Postgres.User)
	eq("local.region (aws.region)", strVal(e.Locals["region"]), ef.AWS.Region)

	dbs := stringMap(e.Args["rds"]["databases"])
	for unit, want := range ef.Postgres.Databases {
		eq("module.rds.databases."+unit+" (postgres.databases."+unit+")", dbs[unit], want)
	}
	for unit, got := range dbs {
		if _, ok := ef.Postgres.Databases[unit]; !ok {
			p = append(p, fmt.Sprintf("%s: module.rds.databases.%s = %q is not in %s postgres.databases", where, unit, got, file))
		}
	}

	// Topics: MSK must create exactly the env file's, with its partitions
	// and replication, and their names must be the events package's.
	onMSK := map[string]bool{}
	topics := e.Args["msk"]["topics"]
	if topics.IsKnown() && !topics.IsNull() && topics.CanIterateElements() {
		for it := topics.ElementIterator(); it.Next(); {
			k, v := it.Element()
			key := k.AsString()
			name := strVal(attr(v, "name"))
			onMSK[name] = true
			want, ok := ef.Kafka.Topics[key]
			if !ok {
				p = append(p, fmt.Sprintf("%s: module.msk.topics.%s (%q) is not in %s kafka.topics", where, key, name, file))
				continue
			}
			eq("module.msk.topics."+key+".name", name, want.Name)
			eq("module.msk.topics."+key+".partitions", numStr(attr(v, "partitions")), fmt.Sprint(want.Partitions))
			eq("module.msk.topics."+key+".replication", numStr(attr(v, "replication")), fmt.Sprint(want.Replication))
		}
	}
	for key, want := range ef.Kafka.Topics {
		if !onMSK[want.Name] {
			p = append(p, fmt.Sprintf("%s: topic %q (kafka.topics.%s in %s) is missing on MSK (module.msk.topics)", where, want.Name, key, file))
		}
	}
	for _, t := range eventTopics {
		if !onMSK[t] {
			p = append(p, fmt.Sprintf("%s: topic %q of services/api/events is missing on MSK (module.msk.topics)", where, t))
		}
	}
	for name := range onMSK {
		if !contains(eventTopics, name) {
			p = append(p, fmt.Sprintf("%s: MSK topic %q is not a topic of services/api/events", where, name))
		}
	}
	for _, arg := range []string{"source_topic", "dlq_topic"} {
		if t := e.str("lambda", arg); !onMSK[t] {
			p = append(p, fmt.Sprintf("%s: module.lambda.%s %q is not a topic on MSK", where, arg, t))
		}
	}

	// ArgoCD: namespace, one role per service account, the same image.
	rendered, err := renderOverlay(filepath.Join(repo, "argocd"), env)
	if err != nil {
		return nil, fmt.Errorf("render argocd/overlays/%s: %w", env, err)
	}
	deps, err := argocd.Deployments(rendered)
	if err != nil {
		return nil, err
	}
	hpas, err := argocd.HPAs(rendered)
	if err != nil {
		return nil, err
	}
	sas := map[string]string{} // unit => service account
	var images []string
	for _, d := range deps {
		sas[d.Name] = d.Spec.Template.Spec.ServiceAccountName
		if d.Namespace != "" {
			eqFrom(overlay, "module.iam.namespace (namespace of Deployment "+d.Name+")", e.str("iam", "namespace"), d.Namespace)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			images = append(images, c.Image)
		}
	}
	units := e.Args["iam"]["units"]
	tfSAs := map[string]string{}
	if units.IsKnown() && !units.IsNull() && units.CanIterateElements() {
		for it := units.ElementIterator(); it.Next(); {
			k, v := it.Element()
			tfSAs[k.AsString()] = strVal(attr(v, "service_account"))
		}
	}
	for unit, sa := range sas {
		got, ok := tfSAs[unit]
		if !ok {
			p = append(p, fmt.Sprintf("%s: argocd/overlays/%s deploys %q (service account %q) but module.iam.units has no role for it", where, env, unit, sa))
			continue
		}
		eqFrom(overlay, "module.iam.units."+unit+".service_account", got, sa)
	}
	for unit, sa := range tfSAs {
		if _, ok := sas[unit]; !ok {
			p = append(p, fmt.Sprintf("%s: module.iam.units.%s (service account %q) is not a Deployment of argocd/overlays/%s", where, unit, sa, env))
		}
	}
	lambdaImage := e.str("lambda", "source_image")
	sort.Strings(images)
	for _, img := range uniq(images) {
		eqFrom(overlay, "module.lambda.source_image (the image the Deployments run)", lambdaImage, img)
	}
	if repo, _, _ := strings.Cut(lambdaImage, ":"); repo != strVal(e.Locals["image_repository"]) {
		p = append(p, fmt.Sprintf("%s: output image_repository %q is not the Lambda's image %q", where, strVal(e.Locals["image_repository"]), lambdaImage))
	}

	p = append(p, checkNodeFit(where, env, e, deps, hpas)...)
	return p, nil
}

// checkNodeFit checks that the node group at max_size fits every
// Deployment at its HPA maximum (or fixed replica count) by requests.
func checkNodeFit(where, env string, e *Eval, deps []appsv1.Deployment, hpas []autoscalingv2.HorizontalPodAutoscaler) Problems {
	var p Problems
	itype := e.str("eks", "node_instance_type")
	node, ok := NodeAllocatable[itype]
	if !ok {
		return Problems{fmt.Sprintf("%s: module.eks.node_instance_type %q has no entry in tfcheck.NodeAllocatable", where, itype)}
	}
	maxSize, ok := e.num("eks", "node_max_size")
	if !ok {
		return Problems{fmt.Sprintf("%s: module.eks.node_max_size is not a constant", where)}
	}
	hpaMax := map[string]int64{}
	for _, h := range hpas {
		hpaMax[h.Spec.ScaleTargetRef.Name] = int64(h.Spec.MaxReplicas)
	}
	cpu, mem := ClusterSystem.MilliCPU, ClusterSystem.MiB
	for _, d := range deps {
		n, ok := hpaMax[d.Name]
		if !ok {
			n = 1
			if d.Spec.Replicas != nil {
				n = int64(*d.Spec.Replicas)
			}
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			cpu += n * c.Resources.Requests.Cpu().MilliValue()
			mem += n * c.Resources.Requests.Memory().Value() / (1 << 20)
		}
	}
	need := int64(math.Max(math.Ceil(float64(cpu)/float64(node.MilliCPU)), math.Ceil(float64(mem)/float64(node.MiB))))
	if maxSize < need {
		p = append(p, fmt.Sprintf("%s: module.eks.node_max_size %d is too small: argocd/overlays/%s at its HPA maxima requests %dm CPU and %dMi (with %dm/%dMi cluster add-ons), which needs %d %s nodes of %dm/%dMi",
			where, maxSize, env, cpu, mem, ClusterSystem.MilliCPU, ClusterSystem.MiB, need, itype, node.MilliCPU, node.MiB))
	}
	return p
}

func checkGCPEnv(env string, m *Module, ef *envFile, eventTopics []string, flink, flinkFrom string) (Problems, error) {
	e, err := Evaluate(m)
	if err != nil {
		return nil, err
	}
	p := append(Problems(nil), e.Errors...)
	where := "terraform/gcp/envs/" + env
	fv := e.str("dataproc", "flink_version")
	if fv != flink {
		p = append(p, fmt.Sprintf("%s: module.dataproc.flink_version %q is not the job's Flink version %q (%s)", where, fv, flink, flinkFrom))
	}
	img := e.str("dataproc", "image_version")
	if shipped, ok := DataprocFlink[img]; !ok {
		p = append(p, fmt.Sprintf("%s: Dataproc image %q has no entry in tfcheck.DataprocFlink", where, img))
	} else if shipped != fv {
		p = append(p, fmt.Sprintf("%s: Dataproc image %q ships Flink %s, flink_version is %q", where, img, shipped, fv))
	}
	topics := e.Locals["topics"]
	if topics.IsKnown() && !topics.IsNull() && topics.CanIterateElements() {
		for it := topics.ElementIterator(); it.Next(); {
			k, v := it.Element()
			name := strVal(v)
			if !contains(eventTopics, name) {
				p = append(p, fmt.Sprintf("%s: local.topics.%s %q is not a topic of services/api/events", where, k.AsString(), name))
			}
			if want := ef.Kafka.Topics[k.AsString()].Name; want != name {
				p = append(p, fmt.Sprintf("%s: local.topics.%s is %q, envs/aws-%s.yaml says %q", where, k.AsString(), name, env, want))
			}
		}
	}
	if b := strVal(e.Locals["bucket"]); b != ef.AWS.S3.AnalyticsBucket {
		p = append(p, fmt.Sprintf("%s: local.bucket is %q, envs/aws-%s.yaml aws.s3.analytics_bucket says %q", where, b, env, ef.AWS.S3.AnalyticsBucket))
	}
	return p, nil
}

func (e *Eval) str(call, arg string) string { return strVal(e.Args[call][arg]) }

func (e *Eval) num(call, arg string) (int64, bool) {
	v := e.Args[call][arg]
	if v == cty.NilVal || !v.IsKnown() || v.IsNull() || v.Type() != cty.Number {
		return 0, false
	}
	n, _ := v.AsBigFloat().Int64()
	return n, true
}

func strVal(v cty.Value) string {
	if v == cty.NilVal || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "<not a constant string>"
	}
	return v.AsString()
}

func numStr(v cty.Value) string {
	if v == cty.NilVal || !v.IsKnown() || v.IsNull() || v.Type() != cty.Number {
		return "<not a constant number>"
	}
	return v.AsBigFloat().Text('f', -1)
}

func attr(v cty.Value, name string) cty.Value {
	if !v.IsKnown() || v.IsNull() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
		return cty.NilVal
	}
	if v.Type().IsObjectType() {
		if !v.Type().HasAttribute(name) {
			return cty.NilVal
		}
		return v.GetAttr(name)
	}
	return v.Index(cty.StringVal(name))
}

func stringMap(v cty.Value) map[string]string {
	out := map[string]string{}
	if v == cty.NilVal || !v.IsKnown() || v.IsNull() || !v.CanIterateElements() {
		return out
	}
	for it := v.ElementIterator(); it.Next(); {
		k, x := it.Element()
		out[k.AsString()] = strVal(x)
	}
	return out
}

func uniq(s []string) []string {
	var out []string
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

var (
	renderMu    sync.Mutex
	renderCache = map[[32]byte][]byte{}
)

// renderOverlay renders argocd/overlays/<env>, memoised by the content of
// the whole argocd tree: kustomize takes about a second, and the breakage
// tests check many copies whose argocd/ is unchanged.
func renderOverlay(argocdDir, env string) ([]byte, error) {
	h := sha256.New()
	err := filepath.WalkDir(argocdDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(argocdDir, p)
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(h, "env=%s", env)
	var key [32]byte
	copy(key[:], h.Sum(nil))
	renderMu.Lock()
	defer renderMu.Unlock()
	if b, ok := renderCache[key]; ok {
		return b, nil
	}
	b, err := argocd.Render(filepath.Join(argocdDir, "overlays", env))
	if err != nil {
		return nil, err
	}
	renderCache[key] = b
	return b, nil
}
