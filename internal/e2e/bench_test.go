package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// Benchmarks of the full HTTPS path: a real server (start) on loopback, one
// keep-alive HTTP/1.1 client as an SDK would hold, HTTP Basic as admin (the
// authenticator's cache spares argon2 after the first request). They run
// only with -bench:
//
//	go test -run '^$' -bench . -benchmem ./internal/e2e
//
// docs/performance.md compares them with internal/bench's crypto floor.

// benchDatabases is SQLite always, PostgreSQL when CERTDOCK_TEST_POSTGRES_DSN is set.
var benchDatabases = []string{"sqlite", "postgres"}

// benchInstance starts a server with the tests' harness (start), SQLite or
// a fresh PostgreSQL schema (skipped when CERTDOCK_TEST_POSTGRES_DSN is unset).
func benchInstance(b *testing.B, db string) *instance {
	b.Helper()
	dsn := ""
	if db == "postgres" {
		dsn = postgresDSN(b)
	}
	return start(b, dsn)
}

// benchClient keeps enough idle connections for every parallel client.
func (in *instance) benchClient() *http.Client {
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: in.roots}, MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute,
	}}
}

// do sends one admin request and returns the status and body.
func (in *instance) do(c *http.Client, method, path string, body []byte, headers map[string]string) (int, []byte, error) {
	req, err := http.NewRequest(method, in.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("x-keyfactor-requested-with", "APIClient")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.SetBasicAuth("admin", adminPassword)
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

var pfxHeaders = map[string]string{"x-certificateformat": "PFX", "x-keyfactor-api-version": "1"}

type benchPFXResponse struct {
	CertificateInformation struct {
		KeyfactorId int64
		Pkcs12Blob  string
	}
}

// enrollPFX enrolls one certificate for cn and checks the answer: a 200
// with a certificate id and a PKCS#12 blob. With verify it also opens the
// PKCS#12 with the password (client-side work a benchmark should not count
// on every iteration).
func (in *instance) enrollPFX(c *http.Client, keyType, cn string, verify bool) (int64, error) {
	const password = "bench-password-123"
	body := []byte(`{"Template":"WebServer","KeyType":"` + keyType + `","Subject":"CN=` + cn + `","Password":"` + password +
		`","IncludeChain":true,"Timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `"}`)
	code, b, err := in.do(c, "POST", "/Enrollment/PFX", body, pfxHeaders)
	if err != nil {
		return 0, err
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("POST /Enrollment/PFX: status %d: %s", code, b)
	}
	var r benchPFXResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, err
	}
	if r.CertificateInformation.KeyfactorId == 0 || r.CertificateInformation.Pkcs12Blob == "" {
		return 0, fmt.Errorf("POST /Enrollment/PFX: no certificate id or PKCS#12: %s", b)
	}
	if verify {
		der, err := base64.StdEncoding.DecodeString(r.CertificateInformation.Pkcs12Blob)
		if err != nil {
			return 0, err
		}
		if _, leaf, _, err := pkcs12.DecodeChain(der, password); err != nil || leaf.Subject.CommonName != cn {
			return 0, fmt.Errorf("PKCS#12 does not open or holds another leaf: %v", err)
		}
	}
	return r.CertificateInformation.KeyfactorId, nil
}

// BenchmarkHTTPEnrollPFX is POST /Enrollment/PFX end to end, sequential (one
// client) and parallel (4 clients per core), per database and key type.
func BenchmarkHTTPEnrollPFX(b *testing.B) {
	for _, db := range benchDatabases {
		b.Run(db, func(b *testing.B) {
			in := benchInstance(b, db)
			c := in.benchClient()
			var n atomic.Int64
			cn := func() string { return "bench-" + strconv.FormatInt(n.Add(1), 10) + ".example.com" }
			if _, err := in.enrollPFX(c, "ECC", cn(), true); err != nil { // warm up and verify once
				b.Fatal(err)
			}
			for _, kt := range []struct{ name, keyType string }{{"P-256", "ECC"}, {"RSA-2048", "RSA"}} {
				b.Run(kt.name+"/seq", func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if _, err := in.enrollPFX(c, kt.keyType, cn(), false); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run(kt.name+"/parallel", func(b *testing.B) {
					b.ReportAllocs()
					b.SetParallelism(4)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if _, err := in.enrollPFX(c, kt.keyType, cn(), false); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
			}
		})
	}
}

// BenchmarkHTTPRead is the cheap read path, to show what HTTP, TLS record
// handling, authentication and SQL cost alone: a query by IssuedCN over 100
// certificates, and one certificate by id.
func BenchmarkHTTPRead(b *testing.B) {
	for _, db := range benchDatabases {
		b.Run(db, func(b *testing.B) {
			in := benchInstance(b, db)
			c := in.benchClient()
			var id int64
			for i := range 100 {
				got, err := in.enrollPFX(c, "ECC", "read-"+strconv.Itoa(i)+".example.com", i == 0)
				if err != nil {
					b.Fatal(err)
				}
				if i == 42 {
					id = got
				}
			}
			query := "/Certificates?" + url.Values{"pq.queryString": {`IssuedCN -eq "read-42.example.com"`}}.Encode()
			byID := "/Certificates/" + strconv.FormatInt(id, 10)
			check := func(path string) error {
				code, body, err := in.do(c, "GET", path, nil, nil)
				if err != nil {
					return err
				}
				if code != http.StatusOK || !bytes.Contains(body, []byte(`"Id":`+strconv.FormatInt(id, 10)+`,`)) {
					return fmt.Errorf("GET %s: status %d, want 200 with certificate %d: %.300s", path, code, id, body)
				}
				return nil
			}
			for _, r := range []struct{ name, path string }{{"query", query}, {"byid", byID}} {
				if err := check(r.path); err != nil {
					b.Fatal(err)
				}
				b.Run(r.name+"/seq", func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if err := check(r.path); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run(r.name+"/parallel", func(b *testing.B) {
					b.ReportAllocs()
					b.SetParallelism(4)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := check(r.path); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
			}
		})
	}
}

// BenchmarkHTTPListPatterns is GET /EnrollmentPatterns with 30 patterns (the
// two starter ones and 28 more on WebServer): each pattern's template, CAs
// and owner role are resolved for its DTO.
func BenchmarkHTTPListPatterns(b *testing.B) {
	for _, db := range benchDatabases {
		b.Run(db, func(b *testing.B) {
			in := benchInstance(b, db)
			c := in.benchClient()
			code, body, err := in.do(c, "GET", "/Templates", nil, nil)
			if err != nil || code != http.StatusOK {
				b.Fatalf("GET /Templates: %d %v %s", code, err, body)
			}
			var tpls []struct {
				Id         int64
				CommonName string
			}
			if err := json.Unmarshal(body, &tpls); err != nil {
				b.Fatal(err)
			}
			var tid int64
			for _, t := range tpls {
				if t.CommonName == "WebServer" {
					tid = t.Id
				}
			}
			for i := range 28 {
				code, body, err := in.do(c, "POST", "/EnrollmentPatterns", []byte(fmt.Sprintf(`{"Name":"Bench%02d","Template":{"Id":%d}}`, i, tid)), nil)
				if err != nil || code != http.StatusOK {
					b.Fatalf("POST /EnrollmentPatterns: %d %v %s", code, err, body)
				}
			}
			check := func() error {
				code, body, err := in.do(c, "GET", "/EnrollmentPatterns?pq.pageReturned=1&pq.returnLimit=100", nil, nil)
				if err != nil {
					return err
				}
				var got []struct {
					Name     string
					Template struct{ CommonName string }
				}
				if code != http.StatusOK {
					return fmt.Errorf("GET /EnrollmentPatterns: status %d: %.300s", code, body)
				}
				if err := json.Unmarshal(body, &got); err != nil {
					return err
				}
				if len(got) != 30 || got[len(got)-1].Template.CommonName == "" {
					return fmt.Errorf("GET /EnrollmentPatterns: %d patterns, want 30 with their template: %.300s", len(got), body)
				}
				return nil
			}
			if err := check(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := check(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
