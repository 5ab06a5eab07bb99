package notificationtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/shoplab/shoplab/services/notification"
	"github.com/shoplab/shoplab/services/platform/parts"
)

// MotoRegion is the region every moto-backed test uses.
const MotoRegion = "us-east-1"

// Moto is a moto_server on a free loopback port, stopped when the test ends.
type Moto struct {
	// Endpoint is the base URL to point the AWS SDK at.
	Endpoint string
	http     *http.Client
}

// StartMoto starts moto_server for tb and waits until it answers. Without
// moto_server on PATH the test is skipped, saying how to install it (CI
// provides it).
func StartMoto(tb testing.TB) *Moto {
	tb.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		tb.Skip("moto_server not found: install with " + parts.MotoInstall)
	}
	// The port is picked by the kernel then handed to moto, so another
	// process may grab it in between; a start that dies early is retried.
	var lastOut string
	for range 3 {
		port, err := freePort()
		if err != nil {
			tb.Fatalf("pick a port for moto_server: %v", err)
		}
		m, out, err := startMoto(tb, bin, port)
		if err == nil {
			return m
		}
		lastOut = fmt.Sprintf("%v\n%s", err, out)
	}
	tb.Fatalf("moto_server did not start: %s", lastOut)
	return nil
}

// syncBuffer is a bytes.Buffer safe for the process writer and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// motoCommand runs moto on one thread (see parts.MotoSerialLauncher: a
// conditional write must be atomic) when python3 can import it, else
// moto_server itself.
func motoCommand(bin string, port int) *exec.Cmd {
	if cmd, err := parts.MotoCommand("127.0.0.1", port); err == nil {
		return cmd
	}
	return exec.Command(bin, "-p", strconv.Itoa(port), "-H", "127.0.0.1")
}

func startMoto(tb testing.TB, bin string, port int) (*Moto, string, error) {
	out := &syncBuffer{}
	cmd := motoCommand(bin, port)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	m := &Moto{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), http: &http.Client{Timeout: 5 * time.Second}}
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return nil, out.String(), fmt.Errorf("moto_server exited: %v", err)
		case <-deadline.C:
			stop()
			return nil, out.String(), fmt.Errorf("moto_server did not answer within 30s")
		case <-tick.C:
		}
		resp, err := m.http.Get(m.Endpoint + "/moto-api/")
		if err != nil {
			continue
		}
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			tb.Cleanup(stop)
			return m, out.String(), nil
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// AWSConfig is an SDK config with static credentials in MotoRegion; point
// each client at Endpoint with BaseEndpoint (DynamoDB and SES do below).
func (m *Moto) AWSConfig() aws.Config {
	cfg := aws.Config{
		Region:      MotoRegion,
		Credentials: credentials.NewStaticCredentialsProvider("shoplab", "shoplab", ""),
	}
	if m.http != nil {
		cfg.HTTPClient = m.http
	}
	return cfg
}

// DynamoDB returns a DynamoDB client on this moto_server.
func (m *Moto) DynamoDB() *dynamodb.Client {
	return dynamodb.NewFromConfig(m.AWSConfig(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(m.Endpoint) })
}

// SES returns an SES v2 client on this moto_server.
func (m *Moto) SES() *sesv2.Client {
	return sesv2.NewFromConfig(m.AWSConfig(), func(o *sesv2.Options) { o.BaseEndpoint = aws.String(m.Endpoint) })
}

// VerifySender makes moto accept addr as a sender, as SES requires.
func (m *Moto) VerifySender(ctx context.Context, addr string) error {
	_, err := m.SES().CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(addr)})
	return err
}

// SentEmails returns the emails moto's SES accepted from sender, read from
// moto's model dump. Moto keeps neither event nor order ids.
func (m *Moto) SentEmails(ctx context.Context, sender string) ([]notification.Email, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.Endpoint+"/moto-api/data.json", nil)
	if err != nil {
		return nil, err
	}
	resp, err := m.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("moto data.json: %s", resp.Status)
	}
	var dump struct {
		SES struct {
			Message []struct {
				Source       string              `json:"source"`
				Subject      string              `json:"subject"`
				Body         string              `json:"body"`
				Destinations map[string][]string `json:"destinations"`
			} `json:"Message"`
		} `json:"ses"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&dump); err != nil {
		return nil, fmt.Errorf("moto data.json: %w", err)
	}
	var out []notification.Email
	for _, msg := range dump.SES.Message {
		if msg.Source != sender {
			continue
		}
		for _, to := range msg.Destinations["ToAddresses"] {
			out = append(out, notification.Email{From: msg.Source, To: to, Subject: msg.Subject, Body: msg.Body})
		}
	}
	return out, nil
}
