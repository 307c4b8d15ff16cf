package e2e

import (
	"bufio"
	"context"
	"crypto"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/certdock/certdock/internal/agent"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/enroll"
	"github.com/certdock/certdock/internal/secret"
	"github.com/certdock/certdock/internal/sqlstore"
)

// The crash test proves the brief's promise for the server: "A 200 means
// the result is durable. A crash or kill at any point loses no issued
// certificate and leaves no half-done job." It runs the real binary as a
// separate process, drives it with concurrent clients (v1 and v2 PFX
// enrollments, the v2 ones with Stores so that management jobs are made,
// revocations, metadata updates), SIGKILLs it at a random moment, checks
// the database with the server down, restarts it on the same data and
// checks every answered request over the API (docs/storage.md, Durability).

const (
	crashRounds  = 3
	crashWorkers = 4
	crashPass    = "Crash-Enroll-Pass-123"
	// crashCycle is one request of each kind a worker sends in turn.
	crashCycle = 5
	crashTag   = "CrashTag"
)

// crashProc is one `certdock serve` process.
type crashProc struct {
	cmd     *exec.Cmd
	out     *syncBuffer
	done    chan struct{}
	in      *instance
	pkiBase string

	dir        string
	ready, pki chan string
}

// startCrashServer starts `certdock serve` on dir (and dsn) with
// kernel-chosen ports and waits for "certdock ready on https://HOST:PORT".
func startCrashServer(t *testing.T, bin, dir, dsn string) *crashProc {
	t.Helper()
	p := spawnCrashServer(t, bin, dir, dsn)
	p.waitReady(t)
	return p
}

// spawnCrashServer starts the process without waiting for it.
func spawnCrashServer(t *testing.T, bin, dir, dsn string) *crashProc {
	t.Helper()
	args := []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--hostname", "localhost",
		"--pki-http-addr", "127.0.0.1:0"}
	if dsn != "" {
		args = append(args, "--db", dsn)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "CERTDOCK_ADMIN_PASSWORD="+adminPassword)
	p := &crashProc{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready, pki := make(chan string, 1), make(chan string, 1)
	p.ready, p.pki, p.dir = ready, pki, dir
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.out.Write([]byte(line + "\n"))
			if u, ok := strings.CutPrefix(line, "certdock ready on "); ok {
				ready <- u
			}
			if i := strings.Index(line, "(listening on "); i >= 0 && strings.HasPrefix(line, "certdock: CRL and OCSP") {
				pki <- strings.TrimSuffix(line[i+len("(listening on "):], ")")
			}
		}
		io.Copy(io.Discard, stdout)
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("server output:\n%s", p.out.String())
		}
	})
	return p
}

// waitReady waits for the ready line and fills p.in and p.pkiBase.
func (p *crashProc) waitReady(t *testing.T) {
	t.Helper()
	dir := p.dir
	var readyURL string
	select {
	case readyURL = <-p.ready:
	case <-p.done:
		t.Fatalf("certdock serve exited before it was ready:\n%s", p.out.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("certdock serve not ready within 90s:\n%s", p.out.String())
	}
	select {
	case addr := <-p.pki:
		p.pkiBase = "http://" + addr
	default:
		t.Fatalf("no PKI listener line before ready:\n%s", p.out.String())
	}
	u, err := url.Parse(readyURL)
	if err != nil {
		t.Fatalf("ready line %q: %v", readyURL, err)
	}
	port, _ := strconv.Atoi(u.Port())
	pemRoot, err := os.ReadFile(filepath.Join(dir, "root-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemRoot)
	p.in = &instance{dataDir: dir, port: port, base: "https://localhost:" + strconv.Itoa(port) + "/KeyfactorAPI", roots: pool}
}

// kill is SIGKILL: no shutdown code runs.
func (p *crashProc) kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Kill()
	}
	<-p.done
}

// crashCert is one enrollment answered 200, and what has been answered
// about it since.
type crashCert struct {
	id       int64
	thumb    string
	serial   string
	retained bool
	v2       bool
	checked  bool // recovered and job-checked after a restart

	tag, tagPending string // metadata CrashTag answered 200; sent but unanswered
	revoked         bool   // a revoke answered 200
	revokePending   bool   // a revoke sent but unanswered
}

type crashLedger struct {
	mu    sync.Mutex
	certs []*crashCert
	acks  int
	// perWorker counts each worker's answers in the current round.
	perWorker [crashWorkers]int
	// unanswered counts the requests cut off by a kill.
	unanswered int
	killed     atomic.Bool // set just before SIGKILL: from then on, failed requests are expected
}

// lost reports a request that got no answer: expected once the server is
// being killed, a failure before.
func (l *crashLedger) lost(t *testing.T, what string, err error) {
	if !l.killed.Load() {
		t.Errorf("%s failed before the kill: %v", what, err)
	}
	l.mu.Lock()
	l.unanswered++
	l.mu.Unlock()
}

func TestCrash_KillServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the real binary several times")
	}
	bin := certdockBinary(t)
	t.Run("sqlite", func(t *testing.T) { runCrash(t, bin, "") })
	t.Run("postgres", func(t *testing.T) { runCrash(t, bin, postgresDSN(t)) })
}

func runCrash(t *testing.T, bin, dsn string) {
	began := time.Now()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))

	// Killed while it bootstraps (master key, migrations, CA, starter
	// configuration, admin): the next start completes the bootstrap.
	first := time.Now()
	p := startCrashServer(t, bin, dir, dsn)
	p.kill()
	readyAfter := time.Since(first)
	bootDir, bootDSN := t.TempDir(), dsn
	for i := range 3 {
		if dsn != "" {
			bootDSN = postgresDSN(t)
		}
		b := spawnCrashServer(t, bin, bootDir, bootDSN)
		at := time.Duration(rng.Int64N(int64(readyAfter)))
		time.Sleep(at)
		b.kill()
		b = startCrashServer(t, bin, bootDir, bootDSN)
		code, body, err := crashDo(b.in, b.in.benchClient(), "POST", "/Enrollment/PFX", map[string]any{"Template": "WebServer",
			"Subject": "CN=boot.example.com", "KeyType": "ECC", "Password": crashPass, "Timestamp": time.Now().UTC().Format(time.RFC3339)},
			map[string]string{"x-certificateformat": "PFX"})
		if err != nil || code != 200 {
			t.Fatalf("bootstrap killed after %v (ready takes %v): enrollment after the restart: %d %v %s", at, readyAfter, code, err, body)
		}
		b.kill()
		checkCrashDB(t, bootDir, bootDSN)
		t.Logf("bootstrap %d: killed %v after the start (ready takes %v); restarted and enrolled", i+1, at.Round(time.Millisecond), readyAfter.Round(time.Millisecond))
		bootDir = t.TempDir()
	}

	p = startCrashServer(t, bin, dir, dsn)
	in := p.in
	hc := in.benchClient()

	// A metadata field, and a PEM store on an agent that registers once and
	// is never approved: the v2 enrollments' jobs stay scheduled.
	mustOK(t, in, hc, "POST", "/MetadataFields", map[string]any{"Name": crashTag, "Description": "crash test", "DataType": 1}, nil)
	agentDir := t.TempDir()
	cfg := agent.Config{Server: "https://localhost:" + strconv.Itoa(in.port), DataDir: agentDir,
		CACert: filepath.Join(dir, "root-ca.pem"), ClientMachine: "crash-host", Once: true,
		Username: "admin", Password: adminPassword}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	_ = agent.Run(ctx, cfg) // unapproved: the pass ends after registration
	cancel()
	agentID := agentID(t, agentDir)
	storePath := filepath.Join(t.TempDir(), "never.pem")
	var store struct{ Id string }
	mustOK(t, in, hc, "POST", "/CertificateStores", map[string]any{"ClientMachine": "crash-host", "StorePath": storePath,
		"CertStoreType": 100, "AgentId": agentID, "CreateIfMissing": true,
		"Properties": `{"PrivateKeyPath":"` + filepath.Join(filepath.Dir(storePath), "never.key") + `"}`}, &store)

	led := &crashLedger{}
	for round := 1; round <= crashRounds; round++ {
		led.mu.Lock()
		led.perWorker = [crashWorkers]int{}
		led.mu.Unlock()
		stopWorkers := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < crashWorkers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				crashWorker(t, in, hc, led, store.Id, round, w, uint64(rng.Int64()), stopWorkers)
			}()
		}
		// Kill at a random moment once every worker has had an answer to
		// each kind of request (a server that stalls fails here).
		if !led.waitEach(crashCycle, 40*time.Second) {
			led.killed.Store(true)
			p.kill()
			close(stopWorkers)
			wg.Wait()
			t.Fatalf("round %d: not every worker had %d answers within 40s: %v", round, crashCycle, led.perWorker)
		}
		delay := time.Duration(rng.IntN(1500)) * time.Millisecond
		time.Sleep(delay)
		led.killed.Store(true)
		p.kill()
		close(stopWorkers)
		wg.Wait()
		t.Logf("round %d: killed %v after every worker had %d answers; %d answered requests so far, %d cut off by the kills", round, delay, crashCycle, led.count(), led.unanswered)

		// With the server down: the database holds nothing half-done.
		checkCrashDB(t, dir, dsn)

		// It restarts cleanly on the same data, and every answer holds.
		p = startCrashServer(t, bin, dir, dsn)
		led.killed.Store(false)
		in = p.in
		hc = in.benchClient()
		checkCrashAPI(t, in, hc, p.pkiBase, led, store.Id, storePath)
		if t.Failed() {
			return
		}
	}
	p.kill()
	checkCrashDB(t, dir, dsn)
	t.Logf("%d rounds, %d certificates answered, %d answered requests in %v", crashRounds, len(led.certs), led.acks,
		time.Since(began).Round(time.Millisecond))
}

func (l *crashLedger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acks
}

// waitEach polls until every worker has n answers this round.
func (l *crashLedger) waitEach(n int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		least := l.perWorker[0]
		for _, c := range l.perWorker {
			least = min(least, c)
		}
		l.mu.Unlock()
		if least >= n {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// crashWorker sends requests until stop is closed or the server stops
// answering. Only answers are recorded; a request without an answer has
// an unknown outcome (its effect may or may not be there).
func crashWorker(t *testing.T, in *instance, hc *http.Client, led *crashLedger, storeID string, round, w int, seed uint64, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(seed, uint64(w)))
	var mine []*crashCert
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		cn := fmt.Sprintf("crash-r%d-w%d-%d.example.com", round, w, i)
		tag := fmt.Sprintf("t%d-%d-%d", round, w, i)
		op := i % crashCycle
		if len(mine) < 2 && op >= 3 {
			op = 0
		}
		switch op {
		case 0, 1, 2: // v1 WebServer (key retained), v2 with Stores, v1 ClientAuth (no retention)
			template, version := "WebServer", "1"
			body := map[string]any{"Template": template, "Subject": "CN=" + cn, "KeyType": "ECC", "Password": crashPass,
				"Timestamp": time.Now().UTC().Format(time.RFC3339), "Metadata": map[string]string{crashTag: tag}}
			if op == 1 {
				version = "2"
				body["SANs"] = map[string][]string{"dns": {cn}}
				body["Stores"] = []map[string]any{{"StoreId": storeID, "Alias": cn, "Overwrite": true}}
			}
			if op == 2 {
				body["Template"] = "ClientAuth"
			}
			code, b, err := crashDo(in, hc, "POST", "/Enrollment/PFX", body, map[string]string{"x-certificateformat": "PFX", "x-keyfactor-api-version": version})
			if err != nil {
				led.lost(t, "enroll "+cn, err)
				return
			}
			if code != 200 {
				t.Errorf("enroll %s v%s: %d %s", cn, version, code, b)
				return
			}
			var r struct {
				CertificateInformation struct {
					KeyfactorId  int64
					Thumbprint   string
					SerialNumber string
					Pkcs12Blob   string
				}
				SuccessfulStores []string
			}
			if err := json.Unmarshal(b, &r); err != nil || r.CertificateInformation.KeyfactorId == 0 {
				t.Errorf("enroll %s: %v: %s", cn, err, b)
				return
			}
			if op == 1 && (len(r.SuccessfulStores) != 1 || !strings.EqualFold(r.SuccessfulStores[0], storeID)) {
				t.Errorf("enroll %s v2: SuccessfulStores %v, want [%s]", cn, r.SuccessfulStores, storeID)
			}
			c := &crashCert{id: r.CertificateInformation.KeyfactorId, thumb: r.CertificateInformation.Thumbprint,
				retained: op != 2, v2: op == 1, tag: tag}
			if der, err := base64.StdEncoding.DecodeString(r.CertificateInformation.Pkcs12Blob); err == nil {
				if _, leaf, _, err := pkcs12.DecodeChain(der, crashPass); err == nil {
					c.serial = strings.ToUpper(leaf.SerialNumber.Text(16))
				}
			}
			if c.thumb == "" || c.serial == "" {
				t.Errorf("enroll %s: no thumbprint or no readable PKCS#12: %s", cn, b)
				return
			}
			mine = append(mine, c)
			led.mu.Lock()
			led.certs = append(led.certs, c)
			led.acks++
			led.perWorker[w]++
			led.mu.Unlock()
		case 3: // metadata update on one of mine
			c := mine[rng.IntN(len(mine))]
			if !led.change(t, in, hc, w, "metadata update", fmt.Sprintf("metadata %d", c.id), "PUT", "/Certificates/Metadata",
				map[string]any{"Id": c.id, "Metadata": map[string]string{crashTag: tag}},
				func() { c.tagPending = tag }, func() { c.tag, c.tagPending = tag, "" }) {
				return
			}
		case 4: // revoke one of mine not yet revoked
			var c *crashCert
			for _, k := range rng.Perm(len(mine)) {
				if !mine[k].revoked && !mine[k].revokePending {
					c = mine[k]
					break
				}
			}
			if c == nil {
				continue
			}
			// PublishCRL false: the CRL is re-signed after the answer, by
			// the scheduler; a kill in between must not leave it stale.
			if !led.change(t, in, hc, w, "revoke", fmt.Sprintf("revoke %d", c.id), "POST", "/Certificates/Revoke",
				map[string]any{"CertificateIds": []int64{c.id}, "Reason": 1, "Comment": "crash test", "PublishCRL": i%2 == 0},
				func() { c.revokePending = true }, func() { c.revoked, c.revokePending = true, false }) {
				return
			}
		}
	}
}

// change sends worker w's change to the server, marking it pending in
// the ledger first (pending runs under the lock); a 2xx answer applies
// done and counts as acknowledged. lostWhat names the request when it gets
// no answer, what when it gets another status. It returns false when the
// worker must stop.
func (led *crashLedger) change(t *testing.T, in *instance, hc *http.Client, w int, lostWhat, what, method, path string, body any,
	pending, done func()) bool {
	led.mu.Lock()
	pending()
	led.mu.Unlock()
	code, b, err := crashDo(in, hc, method, path, body, nil)
	if err != nil {
		led.lost(t, lostWhat, err)
		return false
	}
	if code/100 != 2 {
		t.Errorf("%s: %d %s", what, code, b)
		return false
	}
	led.mu.Lock()
	done()
	led.acks++
	led.perWorker[w]++
	led.mu.Unlock()
	return true
}

func crashDo(in *instance, hc *http.Client, method, path string, body any, headers map[string]string) (int, []byte, error) {
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	return in.do(hc, method, path, b, headers)
}

func mustOK(t *testing.T, in *instance, hc *http.Client, method, path string, body, out any) {
	t.Helper()
	code, b, err := crashDo(in, hc, method, path, body, nil)
	if err != nil || code/100 != 2 {
		t.Fatalf("%s %s: %d %v %s", method, path, code, err, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// checkCrashAPI checks, over the API of the restarted server, every
// answered request of every round so far.
func checkCrashAPI(t *testing.T, in *instance, hc *http.Client, pkiBase string, led *crashLedger, storeID, storePath string) {
	t.Helper()
	led.mu.Lock()
	defer led.mu.Unlock()
	for _, c := range led.certs {
		var got struct {
			Thumbprint    string
			CertState     int
			CertRequestId *int64
			HasPrivateKey bool
			Metadata      map[string]string
		}
		code, b, err := crashDo(in, hc, "GET", fmt.Sprintf("/Certificates/%d?includeMetadata=true&includeHasPrivateKey=true", c.id), nil, nil)
		if err != nil || code != 200 {
			t.Errorf("certificate %d answered 200 before the kill: GET %d %v %s", c.id, code, err, b)
			continue
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if !strings.EqualFold(got.Thumbprint, c.thumb) {
			t.Errorf("certificate %d: thumbprint %s, answered %s", c.id, got.Thumbprint, c.thumb)
		}
		if got.CertRequestId == nil || *got.CertRequestId == 0 {
			t.Errorf("certificate %d has no request", c.id)
		}
		if got.HasPrivateKey != c.retained {
			t.Errorf("certificate %d: HasPrivateKey %v, want %v", c.id, got.HasPrivateKey, c.retained)
		}
		switch tag := got.Metadata[crashTag]; {
		case tag == c.tag:
			c.tagPending = ""
		case c.tagPending != "" && tag == c.tagPending:
			c.tag, c.tagPending = tag, "" // the unanswered update committed
		default:
			t.Errorf("certificate %d: metadata %s=%q, answered %q (unanswered %q)", c.id, crashTag, tag, c.tag, c.tagPending)
		}
		switch {
		case got.CertState == int(certificate.StateRevoked) && (c.revoked || c.revokePending):
			c.revoked, c.revokePending = true, false
		case got.CertState == int(certificate.StateActive) && !c.revoked:
			c.revokePending = false
		default:
			t.Errorf("certificate %d: CertState %d, revoke answered %v (unanswered %v)", c.id, got.CertState, c.revoked, c.revokePending)
		}
		if c.checked {
			continue
		}
		c.checked = true
		if c.v2 {
			q := url.QueryEscape(fmt.Sprintf("CertificateId -eq %d", c.id))
			var jobs []struct{ Id, Target string }
			code, b, err := crashDo(in, hc, "GET", "/OrchestratorJobs/ScheduledJobs?pq.queryString="+q, nil, nil)
			if err != nil || code != 200 || json.Unmarshal(b, &jobs) != nil {
				t.Errorf("scheduled jobs of %d: %d %v %s", c.id, code, err, b)
			} else if len(jobs) != 1 || jobs[0].Target != storePath {
				t.Errorf("certificate %d (v2 with Stores, answered 200): scheduled jobs %+v, want one for %s", c.id, jobs, storePath)
			}
		}
		if c.retained {
			code, b, err := crashDo(in, hc, "POST", "/Certificates/Recover", map[string]any{"CertId": c.id, "Password": crashPass},
				map[string]string{"x-certificateformat": "PFX"})
			var r struct{ PFX string }
			if err != nil || code != 200 || json.Unmarshal(b, &r) != nil {
				t.Errorf("recover %d: %d %v %s", c.id, code, err, b)
				continue
			}
			der, _ := base64.StdEncoding.DecodeString(r.PFX)
			key, leaf, _, err := pkcs12.DecodeChain(der, crashPass)
			if err != nil {
				t.Errorf("recovered PKCS#12 of %d: %v", c.id, err)
				continue
			}
			if !strings.EqualFold(fmt.Sprintf("%X", sha1sum(leaf.Raw)), c.thumb) || !samePublic(key, leaf.PublicKey) {
				t.Errorf("recovered PKCS#12 of %d holds another certificate or a key that does not match", c.id)
			}
		}
	}
	// The CRL lists every certificate whose revocation was answered.
	resp, err := http.Get(pkiBase + "/crl/IssuingCA1.crl")
	if err != nil {
		t.Errorf("CRL: %v", err)
		return
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Errorf("CRL: status %d: %v", resp.StatusCode, err)
		return
	}
	listed := map[string]bool{}
	for _, e := range rl.RevokedCertificateEntries {
		listed[strings.ToUpper(e.SerialNumber.Text(16))] = true
	}
	for _, c := range led.certs {
		if c.revoked && !listed[c.serial] {
			t.Errorf("certificate %d (serial %s) revoked with a 200 is not on CRL number %v after the restart", c.id, c.serial, rl.Number)
		}
	}
}

func samePublic(key any, pub crypto.PublicKey) bool {
	s, ok := key.(crypto.Signer)
	if !ok {
		return false
	}
	e, ok := s.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(pub)
}

// checkCrashDB opens the database of a stopped server (SQLite: WAL
// recovery; migrations run again and must be idempotent) and checks that
// nothing is half-done.
func checkCrashDB(t *testing.T, dir, dsn string) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dsn, dir)
	if err != nil {
		t.Fatalf("sqlstore.Open after the kill: %v", err)
	}
	defer db.Close()
	raw := crashRawDB(t, dir, dsn)
	defer raw.Close()
	keyring, _, err := secret.LoadOrCreate(filepath.Join(dir, "master.key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rebind := func(q string) string {
		if dsn == "" {
			return q
		}
		n := 0
		var b strings.Builder
		for _, r := range q {
			if r == '?' {
				n++
				b.WriteString("$" + strconv.Itoa(n))
				continue
			}
			b.WriteRune(r)
		}
		return b.String()
	}
	count := func(what, q string, args ...any) {
		t.Helper()
		var n int
		if err := raw.QueryRowContext(ctx, rebind(q), args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n != 0 {
			t.Errorf("after the kill: %d %s", n, what)
		}
	}
	count("requests without their certificate that no workflow holds",
		`SELECT COUNT(*) FROM certificate_requests r WHERE r.certificate_id IS NULL
		 AND NOT EXISTS (SELECT 1 FROM workflow_instances w WHERE w.request_id = r.id)`)
	count("requests naming a certificate that does not exist or names another request",
		`SELECT COUNT(*) FROM certificate_requests r WHERE r.certificate_id IS NOT NULL
		 AND NOT EXISTS (SELECT 1 FROM certificates c WHERE c.id = r.certificate_id AND c.cert_request_id = r.id)`)
	count("requests in a non-final state with a certificate",
		`SELECT COUNT(*) FROM certificate_requests WHERE certificate_id IS NOT NULL AND state NOT IN (?, ?)`,
		int(certificate.StateActive), int(certificate.StateRevoked))
	count("certificates naming a request that does not exist or names another certificate",
		`SELECT COUNT(*) FROM certificates c WHERE c.cert_request_id IS NOT NULL
		 AND NOT EXISTS (SELECT 1 FROM certificate_requests r WHERE r.id = c.cert_request_id AND r.certificate_id = c.id)`)
	// Agent client certificates are recorded without an enrollment request
	// (orchestrator.issue); every other certificate has one.
	count("certificates without a request that are not agent client certificates",
		`SELECT COUNT(*) FROM certificates c WHERE c.cert_request_id IS NULL AND NOT EXISTS (SELECT 1 FROM certificate_history h
		 WHERE h.certificate_id = c.id AND h.message LIKE 'agent client certificate for %')`)
	count("jobs without their store", `SELECT COUNT(*) FROM jobs j WHERE NOT EXISTS (SELECT 1 FROM stores s WHERE s.id = j.store_id)`)
	count("jobs without their certificate",
		`SELECT COUNT(*) FROM jobs j WHERE j.certificate_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM certificates c WHERE c.id = j.certificate_id)`)
	count("delivery enrollments without their jobs",
		`SELECT COUNT(*) FROM delivery_enrollments d WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.certificate_id = d.certificate_id)`)
	count("certificates without their history",
		`SELECT COUNT(*) FROM certificates c WHERE NOT EXISTS (SELECT 1 FROM certificate_history h WHERE h.certificate_id = c.id)`)

	// Every retained key opens with the master key, bound to its row, and
	// is the key of its certificate.
	rows, err := raw.QueryContext(ctx, `SELECT k.certificate_id, k.key_sealed, c.der FROM certificate_keys k JOIN certificates c ON c.id = k.certificate_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int64
		var sealed, der []byte
		if err := rows.Scan(&id, &sealed, &der); err != nil {
			t.Fatal(err)
		}
		n++
		pkcs8, err := keyring.Open(sealed, enroll.RetainedKeyAAD(id))
		if err != nil {
			t.Errorf("retained key of certificate %d does not open: %v", id, err)
			continue
		}
		key, err := x509.ParsePKCS8PrivateKey(pkcs8)
		cert, cerr := x509.ParseCertificate(der)
		if err != nil || cerr != nil || !samePublic(key, cert.PublicKey) {
			t.Errorf("retained key of certificate %d is not its key (%v, %v)", id, err, cerr)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	count("certificate_keys rows without their certificate",
		`SELECT COUNT(*) FROM certificate_keys k WHERE NOT EXISTS (SELECT 1 FROM certificates c WHERE c.id = k.certificate_id)`)
	var certs int
	raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM certificates`).Scan(&certs)
	t.Logf("database after the kill: %d certificates, %d retained keys opened", certs, n)
}

// crashRawDB opens the same database with database/sql for the checks'
// own queries (sqlstore exposes no raw SQL).
func crashRawDB(t *testing.T, dir, dsn string) *sql.DB {
	t.Helper()
	var (
		db  *sql.DB
		err error
	)
	if dsn == "" {
		db, err = sql.Open("sqlite", "file:"+filepath.Join(dir, "certdock.db")+"?_pragma=busy_timeout(10000)")
	} else {
		db, err = sql.Open("pgx", dsn)
	}
	if err != nil {
		t.Fatal(err)
	}
	return db
}
