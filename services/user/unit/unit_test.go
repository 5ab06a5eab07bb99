package unit_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	pb "github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/grpcx"
	"github.com/shoplab/shoplab/services/user"
	"github.com/shoplab/shoplab/services/user/unit"
)

// startUnit runs a user unit on free loopback ports until the test ends
// and checks that Run then returns cleanly.
func startUnit(t *testing.T, cfg unit.Config) *unit.Unit {
	t.Helper()
	u, err := unit.New(t.Context(), cfg, unit.Deps{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	runUnit(t, u)
	return u
}

// runUnit runs u until the test ends and checks that Run then returns
// cleanly.
func runUnit(t *testing.T, u *unit.Unit) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10 s of cancellation")
		}
		if err := u.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

func testConfig(t *testing.T) unit.Config {
	return unit.Config{GRPCAddr: "127.0.0.1:0", OpsAddr: "127.0.0.1:0", DataDir: t.TempDir(), Argon2: user.LightArgon2}
}

func dial(t *testing.T, addr string) pb.UserServiceClient {
	t.Helper()
	conn, err := grpcx.Dial(addr, grpcx.ClientOptions{Target: "user"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return pb.NewUserServiceClient(conn)
}

func TestUserServiceOverGRPC(t *testing.T) {
	u := startUnit(t, testConfig(t))
	c := dial(t, u.GRPCAddr())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	reg, err := c.Register(ctx, &pb.RegisterRequest{Email: " Dana@Example.com", Password: "hunter2hunter2", Name: "Dana"})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	got := reg.GetUser()
	if got.GetEmail() != "dana@example.com" || got.GetName() != "Dana" || got.GetId() == "" || got.GetCreatedAt().AsTime().IsZero() {
		t.Fatalf("Register returned %v", got)
	}

	_, err = c.Register(ctx, &pb.RegisterRequest{Email: "DANA@example.com", Password: "another-pass", Name: "Dana 2"})
	if !errs.Is(err, errs.Conflict) {
		t.Errorf("duplicate email: %v, want Conflict", err)
	}
	_, err = c.Register(ctx, &pb.RegisterRequest{Email: "dana.example.com", Password: "hunter2hunter2", Name: "Dana"})
	if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "email" {
		t.Errorf("bad email: %v (field %q), want Invalid on email", err, errs.FieldOf(err))
	}
	_, err = c.Register(ctx, &pb.RegisterRequest{Email: "eve@example.com", Password: "short", Name: "Eve"})
	if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "password" {
		t.Errorf("short password: %v, want Invalid on password", err)
	}

	auth, err := c.Authenticate(ctx, &pb.AuthenticateRequest{Email: "dana@EXAMPLE.com", Password: "hunter2hunter2"})
	if err != nil || auth.GetUser().GetId() != got.GetId() {
		t.Fatalf("Authenticate = %v, %v", auth, err)
	}
	_, wrong := c.Authenticate(ctx, &pb.AuthenticateRequest{Email: "dana@example.com", Password: "hunter3hunter3"})
	_, unknown := c.Authenticate(ctx, &pb.AuthenticateRequest{Email: "zed@example.com", Password: "hunter2hunter2"})
	if !errs.Is(wrong, errs.Unauthenticated) || !errs.Is(unknown, errs.Unauthenticated) {
		t.Errorf("wrong password: %v; unknown email: %v; want Unauthenticated for both", wrong, unknown)
	}
	if errs.MessageOf(wrong) != errs.MessageOf(unknown) {
		t.Errorf("messages tell accounts apart: %q vs %q", errs.MessageOf(wrong), errs.MessageOf(unknown))
	}

	byID, err := c.GetUser(ctx, &pb.GetUserRequest{Id: got.GetId()})
	if err != nil || byID.GetUser().GetEmail() != "dana@example.com" {
		t.Fatalf("GetUser = %v, %v", byID, err)
	}
	if _, err := c.GetUser(ctx, &pb.GetUserRequest{Id: "0190b6c4-8f1e-7a2b-9c3d-4e5f60718293"}); !errs.Is(err, errs.NotFound) {
		t.Errorf("GetUser(unknown) = %v, want NotFound", err)
	}

	body := httpGet(t, "http://"+u.OpsAddr()+"/readyz", http.StatusOK)
	if !strings.Contains(body, "ready") {
		t.Errorf("/readyz body %q", body)
	}
	metrics := httpGet(t, "http://"+u.OpsAddr()+"/metrics", http.StatusOK)
	for _, want := range []string{
		`shoplab_user_registrations_total{result="created",unit="user"} 1`,
		`shoplab_user_registrations_total{result="duplicate",unit="user"} 1`,
		`shoplab_requests_total{code="AlreadyExists",method="/shoplab.v1.UserService/Register",transport="grpc",unit="user"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestRestartOnSameAddressesKeepsUsers(t *testing.T) {
	cfg := testConfig(t)
	first, err := unit.New(t.Context(), cfg, unit.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx) }()
	c := dial(t, first.GRPCAddr())
	reg, err := c.Register(t.Context(), &pb.RegisterRequest{Email: "kept@example.com", Password: "password1", Name: "Kept"})
	if err != nil {
		t.Fatal(err)
	}
	// Kill as sim/cloud does: Close first, then cancel.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after Close: %v", err)
	}

	cfg.GRPCAddr, cfg.OpsAddr = first.GRPCAddr(), first.OpsAddr()
	second := startUnit(t, cfg)
	c2 := dial(t, second.GRPCAddr())
	got, err := c2.GetUser(t.Context(), &pb.GetUserRequest{Id: reg.GetUser().GetId()}, grpc.WaitForReady(true))
	if err != nil || got.GetUser().GetEmail() != "kept@example.com" {
		t.Fatalf("after restart GetUser = %v, %v", got, err)
	}
}

func TestCloseBeforeRunFreesPorts(t *testing.T) {
	cfg := testConfig(t)
	u, err := unit.New(t.Context(), cfg, unit.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if err := u.Ready(t.Context()); err == nil {
		t.Error("Ready after Close = nil, want an error")
	}
	cfg.GRPCAddr, cfg.OpsAddr = u.GRPCAddr(), u.OpsAddr()
	again, err := unit.New(t.Context(), cfg, unit.Deps{})
	if err != nil {
		t.Fatalf("New on the closed unit's addresses: %v", err)
	}
	_ = again.Close()
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := unit.New(t.Context(), unit.Config{GRPCAddr: "127.0.0.1:0", OpsAddr: "127.0.0.1:0"}, unit.Deps{}); err == nil {
		t.Error("New without DataDir succeeded")
	}
	cfg := testConfig(t)
	cfg.Argon2.Parallelism = 0
	if _, err := unit.New(t.Context(), cfg, unit.Deps{}); err == nil {
		t.Error("New with parallelism 0 succeeded")
	}
}

func httpGet(t *testing.T, url string, want int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s = %d %s, want %d", url, resp.StatusCode, b, want)
	}
	return string(b)
}
