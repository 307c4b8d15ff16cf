package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/agent"
	"github.com/certdock/certdock/internal/jobs"
)

// Two ways to run the agent in a test:
//   - in-process: agent.Run(ctx, cfg) in a goroutine (startAgentGoroutine),
//     stopped by cancelling ctx;
//   - as a process of the real binary (startAgentProcess), built once per
//     test binary by certdockBinary, stopped with SIGTERM or killed.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// certdockBinary builds ./cmd/certdock once per test run and returns its path.
// The build goes to a per-user cache directory so that repeated runs reuse
// the build cache and leave one binary behind, not one per run.
func certdockBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("certdock-e2e-bin-%d", os.Getuid()))
		if binErr = os.MkdirAll(dir, 0o700); binErr != nil {
			return
		}
		binPath = filepath.Join(dir, "certdock")
		if runtime.GOOS == "windows" {
			binPath += ".exe"
		}
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/certdock/certdock/cmd/certdock")
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// agentProc is a running `certdock agent` process.
type agentProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

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

// startAgentProcess runs `certdock agent` with cfg's settings (Once adds
// --once; PollInterval --poll-interval). Bootstrap credentials go in the
// environment, as a service would pass them. The process is killed at the
// end of the test if still running; its output is logged on failure.
func startAgentProcess(t testing.TB, cfg agent.Config) *agentProc {
	t.Helper()
	args := []string{"agent", "--server", cfg.Server, "--data-dir", cfg.DataDir, "--ca-cert", cfg.CACert,
		"--client-machine", cfg.ClientMachine}
	if cfg.Once {
		args = append(args, "--once")
	}
	if cfg.PollInterval > 0 {
		args = append(args, "--poll-interval", cfg.PollInterval.String())
	}
	cmd := exec.Command(certdockBinary(t), args...)
	cmd.Env = append(os.Environ(), "CERTDOCK_AGENT_USERNAME="+cfg.Username, "CERTDOCK_AGENT_PASSWORD="+cfg.Password,
		"CERTDOCK_AGENT_TOKEN="+cfg.Token)
	p := &agentProc{cmd: cmd, out: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("agent output:\n%s", p.out.String())
		}
	})
	return p
}

// stop sends SIGTERM and waits for the exit (error when it takes longer than within).
func (p *agentProc) stop(within time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	return p.wait(within)
}

// kill ends the process at once, like a crash.
func (p *agentProc) kill() {
	p.cmd.Process.Kill()
	<-p.done
	p.done <- nil
}

func (p *agentProc) wait(within time.Duration) error {
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(within):
		return errors.New("agent process did not exit in time")
	}
}

// startAgentGoroutine runs agent.Run in the test process until the test ends.
func startAgentGoroutine(t testing.TB, cfg agent.Config) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx, cfg) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// TestAgentProcess_ServiceLifecycle runs the real binary as a long-running
// service: it registers with a password from the environment, waits for
// approval, carries out a job, and exits cleanly on SIGTERM.
func TestAgentProcess_ServiceLifecycle(t *testing.T) {
	as := startAgentServer(t, "")
	dir := t.TempDir()
	cfg := as.agentConfig(dir, "svc-host")
	cfg.Once = false
	cfg.PollInterval = 200 * time.Millisecond
	cfg.Username, cfg.Password = "admin", adminPassword
	p := startAgentProcess(t, cfg)
	eventually(t, "registration", 20*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(dir, "agent.json"))
		return err == nil
	})
	id := agentID(t, dir)
	storePath := filepath.Join(dir, "svc.jks")
	var st struct{ Id string }
	as.api(t, "POST", "/CertificateStores", map[string]any{"ClientMachine": "svc-host", "StorePath": storePath, "CertStoreType": 102,
		"AgentId": id, "CreateIfMissing": true, "Properties": `{"KeystoreType":"JKS"}`, "Password": map[string]string{"SecretValue": "jks-pass-1"}}, nil, &st)
	certID, _ := as.enrollStore(t, "svc.example")
	as.schedule(t, jobs.Request{StoreID: st.Id, Operation: jobs.Add, CertificateID: certID, Alias: "svc", PrivateKey: true})
	time.Sleep(time.Second)
	if _, err := os.Stat(storePath); err == nil {
		t.Fatal("store written before approval")
	}
	as.api(t, "POST", "/Agents/Approve", []string{id}, nil, nil)
	eventually(t, "job carried out", 20*time.Second, func() bool {
		_, err := os.Stat(storePath)
		return err == nil
	})
	out := run(t, "keytool", "-list", "-keystore", storePath, "-storepass", "jks-pass-1", "-storetype", "JKS")
	if !strings.Contains(out, "svc, ") || !strings.Contains(out, "PrivateKeyEntry") {
		t.Fatalf("keytool:\n%s", out)
	}
	// A second process on the same data directory refuses to start (one
	// process per agent identity), and the running one is untouched.
	second := startAgentProcess(t, cfg)
	if err := second.wait(20 * time.Second); err == nil || !strings.Contains(second.out.String(), "another certdock agent is running with this --data-dir") {
		t.Fatalf("second agent on the same data dir: %v\n%s", err, second.out.String())
	}
	start := time.Now()
	if err := p.stop(10 * time.Second); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	t.Logf("agent stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	if !p.cmd.ProcessState.Success() {
		t.Fatalf("exit status %v", p.cmd.ProcessState)
	}
}

// TestAgent_RetriesWhileServerDown starts the agent before the server: it
// keeps retrying and registers once the server listens.
func TestAgent_RetriesWhileServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	as := startAgentServer(t, "") // only for its CA file and credentials
	dir := t.TempDir()
	cfg := as.agentConfig(dir, "late-host")
	cfg.Server = "https://" + strings.Replace(addr, "127.0.0.1", "localhost", 1)
	cfg.Once, cfg.PollInterval = false, 200*time.Millisecond
	cfg.Username, cfg.Password = "admin", adminPassword
	stop := startAgentGoroutine(t, cfg)
	time.Sleep(1500 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(dir, "agent.json")); err == nil {
		t.Fatal("registered with no server")
	}
	// Now serve the same server on the address the agent retries.
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("address %s taken meanwhile: %v", addr, err)
	}
	as.serveOn(t, ln2)
	eventually(t, "registration after the server came up", 20*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(dir, "agent.json"))
		return err == nil
	})
	if err := stop(); err != nil {
		t.Fatalf("agent.Run: %v", err)
	}
}

// TestAgent_ExpiredCertificate: an expired client certificate is refused
// with code A0100007; an agent with bootstrap credentials enrolls a new one
// by itself, one without them stops.
func TestAgent_ExpiredCertificate(t *testing.T) {
	t.Setenv("CERTDOCK_AGENT_CERT_VALIDITY", "3s")
	as := startAgentServer(t, "")
	dir := t.TempDir()
	cfg := as.agentConfig(dir, "short-host")
	cfg.Username, cfg.Password = "admin", adminPassword
	if err := agent.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	first := certThumbprint(t, dir)
	id := agentID(t, dir)
	time.Sleep(4 * time.Second)
	resp := as.rawAgent(t, dir).register(t)
	if resp.Result.Status != 3 || resp.Result.Error.CodeString != "A0100007" {
		t.Fatalf("expired certificate: %+v", resp.Result)
	}
	noCreds := as.agentConfig(dir, "short-host")
	if err := agent.Run(context.Background(), noCreds); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("agent without bootstrap credentials: %v", err)
	}
	if err := agent.Run(context.Background(), cfg); err != nil {
		t.Fatalf("re-enrollment: %v", err)
	}
	if certThumbprint(t, dir) == first || agentID(t, dir) != id {
		t.Fatalf("after re-enrollment: thumbprint %s (was %s), id %s (was %s)", certThumbprint(t, dir), first, agentID(t, dir), id)
	}
}
