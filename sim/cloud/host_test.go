package cloud_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/envs"
	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/platform/parts/partstest"
	"github.com/shoplab/shoplab/sim/cloud"
	"github.com/shoplab/shoplab/sim/reconcile"
	"github.com/shoplab/shoplab/sim/shopclient"
)

// hostTestEnv is envs/host.yaml pointed at the parts partstest hands this
// test: its brokers, fresh databases, its emulator, and names of its own.
// Topic names are the units' own and stay.
func hostTestEnv(t *testing.T) *envs.Env {
	t.Helper()
	brokers := partstest.KafkaBrokers(t)
	endpoint := partstest.AWSEndpoint(t)
	e, err := envs.Load(envs.Host)
	if err != nil {
		t.Fatal(err)
	}
	e.File = "host-test"
	e.Kafka.Brokers = brokers
	e.AWS.Endpoint = endpoint
	e.AWS.S3.AnalyticsBucket = partstest.UniqueName("shoplab-t-")
	e.AWS.DynamoDB.ProductsTable = partstest.UniqueName("products-")
	e.AWS.DynamoDB.DedupTable = partstest.UniqueName("dedup-")
	var dbs []string
	for range 3 {
		u, err := url.Parse(partstest.Postgres(t))
		if err != nil {
			t.Fatal(err)
		}
		e.Postgres.Address, e.Postgres.User = u.Host, u.User.Username()
		dbs = append(dbs, strings.TrimPrefix(u.Path, "/"))
	}
	e.Postgres.Databases = envs.Databases{User: dbs[0], Order: dbs[1], Payment: dbs[2]}
	e.Postgres.CreateDatabases = false
	return e
}

// TestHostEndToEnd places an order through the gateway on real parts and
// sees its email and its analytics window, every real part reached through
// its named edge.
func TestHostEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform on real parts")
	}
	env := hostTestEnv(t)
	engine, err := chaos.New(chaos.WithAPIAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	c, err := cloud.New(ctx, cloud.Config{Env: env, Chaos: engine, AnalyticsWindow: 2 * time.Second, AnalyticsIdle: time.Second})
	if err != nil {
		cancel()
		t.Fatalf("start on %s: %v", env.File, err)
	}
	t.Logf("host env ready in %s", time.Since(start).Round(time.Millisecond))
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = c.Close()
	})

	edges := map[string]string{}
	for _, ed := range engine.Targets().Edges {
		edges[ed.Name] = ed.Upstream
	}
	for _, want := range []string{"order->kafka", "notification->kafka", "analytics->kafka", "analytics->aws"} {
		if edges[want] == "" {
			t.Errorf("no edge %s (edges: %v)", want, edges)
		}
	}
	if edges["order->kafka"] != env.Kafka.Brokers[0] {
		t.Errorf("order->kafka goes to %s, want the advertised broker %s", edges["order->kafka"], env.Kafka.Brokers[0])
	}
	for _, want := range []string{"order->postgres", "user->postgres", "payment->postgres", "product->aws", "notification->aws"} {
		if edges[want] == "" {
			t.Errorf("no edge %s", want)
		}
	}

	rctx, rcancel := context.WithTimeout(ctx, 90*time.Second)
	defer rcancel()
	api := shopclient.New(c.GatewayURL(), nil)
	sess := mustSession(t, api, "host@example.com")
	page, err := api.ListProducts(rctx, "", "", 50, "")
	if err != nil {
		t.Fatal(err)
	}
	var prod shopclient.Product
	for _, p := range page.Items {
		if p.Stock >= 5 {
			prod = p
			break
		}
	}
	res, err := api.CreateOrder(rctx, sess.Token, "k-host", shopclient.OrderRequest{Items: []shopclient.OrderLine{{ProductID: prod.ID, Quantity: 1}}, Payment: shopclient.Payment{Token: "tok_visa"}})
	if err != nil || res.Order.Status != "PAID" {
		t.Fatalf("order: %+v %v", res, err)
	}

	src, err := c.Reconciler()
	if err != nil {
		t.Fatal(err)
	}
	results, st, err := reconcile.WaitFor(rctx, src, []reconcile.Seen{{OrderID: res.Order.ID, Key: "k-host", Outcome: "created"}}, nil, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.OK {
			t.Errorf("invariant %s: %s", r.Name, r.Detail)
		}
	}
	var emailed bool
	for _, e := range st.Emails {
		emailed = emailed || e.OrderID == res.Order.ID && e.To == "host@example.com"
	}
	if !emailed {
		t.Errorf("no email for %s in %+v", res.Order.ID, st.Emails)
	}

	// The window with the order closes and is served by the ops API...
	var win *events.WindowResult
	for win == nil && rctx.Err() == nil {
		var body struct {
			Items []events.WindowResult `json:"items"`
		}
		if resp, err := http.Get(c.OpsURL() + "/ops/v1/analytics/windows?limit=50"); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
		}
		for i, w := range body.Items {
			for _, id := range w.OrderIDs {
				if id == res.Order.ID {
					win = &body.Items[i]
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if win == nil {
		t.Fatalf("no analytics window holds %s", res.Order.ID)
	}
	// ...and is archived in the env's bucket on the emulator.
	s3c := s3.New(s3.Options{Region: env.AWS.Region, BaseEndpoint: aws.String(env.AWS.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("t", "t", "")})
	var keys int
	for keys == 0 && rctx.Err() == nil {
		out, err := s3c.ListObjectsV2(rctx, &s3.ListObjectsV2Input{Bucket: aws.String(env.AWS.S3.AnalyticsBucket)})
		if err == nil {
			keys = len(out.Contents)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if keys == 0 {
		t.Errorf("bucket %s on %s holds no window archive", env.AWS.S3.AnalyticsBucket, env.AWS.Endpoint)
	}
}

// TestUnreachablePartFailsFast: a wrong address in an env file fails the
// start within seconds, naming the file, the field and the address.
func TestUnreachablePartFailsFast(t *testing.T) {
	host, err := envs.Load(envs.Host)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(e *envs.Env)
		want string
	}{
		{"postgres", func(e *envs.Env) {
			e.Kafka.Embedded, e.Kafka.Brokers = true, nil
			e.Postgres.Address = "127.0.0.1:1"
		}, "envs/host.yaml: postgres.address 127.0.0.1:1: connection refused; run shoplab deps up"},
		{"kafka", func(e *envs.Env) { e.Kafka.Brokers = []string{"127.0.0.1:1"} }, "envs/host.yaml: kafka.brokers[0] 127.0.0.1:1: connection refused"},
		{"aws", func(e *envs.Env) {
			e.Kafka.Embedded, e.Kafka.Brokers = true, nil
			e.Stores.Relational = envs.StoreSQLite
			e.AWS.Endpoint = "http://127.0.0.1:1"
		}, "envs/host.yaml: aws.endpoint 127.0.0.1:1: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := *host
			pg := *host.Postgres
			e.Postgres = &pg
			tc.edit(&e)
			start := time.Now()
			_, err := cloud.New(context.Background(), cloud.Config{Env: &e})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s to fail", d)
			}
		})
	}
}
