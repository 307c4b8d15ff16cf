package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/jobs"
	"github.com/certdock/certdock/internal/keystore"
	"github.com/certdock/certdock/internal/orchestrator"
	"github.com/certdock/certdock/internal/pki"
	"github.com/certdock/certdock/internal/storefile"
	"github.com/certdock/certdock/internal/stores"
)

func selfSigned(t *testing.T, cn string) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return k, c
}

// addJob is a management add as the server sends it: a PKCS#12 with a one-time password.
func addJob(t *testing.T, path, alias string, overwrite bool, k *ecdsa.PrivateKey, c *x509.Certificate) orchestrator.ManagementJob {
	t.Helper()
	p12, err := keystore.EncodePKCS12(keystore.Bundle{Key: k, Leaf: c, FriendlyName: alias}, keystore.Options{Password: "one-time-pw"})
	if err != nil {
		t.Fatal(err)
	}
	return orchestrator.ManagementJob{OperationType: 2, StoreType: stores.TypePKCS12, StorePath: path, StorePassword: "store-pw",
		Alias: alias, Overwrite: overwrite, PrivateKeyEntry: true, EntryContents: base64.StdEncoding.EncodeToString(p12),
		PfxPassword: "one-time-pw", Thumbprint: pki.ThumbprintDER(c.Raw), CreateIfMissing: true}
}

func TestManage_AddRemoveSemantics(t *testing.T) {
	a := &agentRun{}
	path := filepath.Join(t.TempDir(), "s.p12")
	kOld, old := selfSigned(t, "old")
	kNew, nw := selfSigned(t, "new")
	inv := func() []storefile.Item {
		items, err := storefile.Store{Kind: storefile.PKCS12, Path: path, Password: "store-pw"}.Inventory()
		if err != nil {
			t.Fatal(err)
		}
		return items
	}
	steps := []struct {
		name   string
		job    orchestrator.ManagementJob
		status int
		leaf   *x509.Certificate // what "web" holds afterwards; nil = no entry
	}{
		{"add", addJob(t, path, "web", false, kOld, old), jobs.StatusOK, old},
		{"rerun of the same add after a crash", addJob(t, path, "web", false, kOld, old), jobs.StatusOK, old},
		{"another certificate without overwrite", addJob(t, path, "web", false, kNew, nw), jobs.StatusError, old},
		{"replace with overwrite", addJob(t, path, "web", true, kNew, nw), jobs.StatusOK, nw},
		{"remove of the old certificate leaves the new one", orchestrator.ManagementJob{OperationType: 3, StoreType: 101, StorePath: path,
			StorePassword: "store-pw", Alias: "web", Thumbprint: pki.ThumbprintDER(old.Raw)}, jobs.StatusWarning, nw},
		{"remove of the new certificate", orchestrator.ManagementJob{OperationType: 3, StoreType: 101, StorePath: path,
			StorePassword: "store-pw", Alias: "web", Thumbprint: pki.ThumbprintDER(nw.Raw)}, jobs.StatusOK, nil},
		{"remove of an absent entry", orchestrator.ManagementJob{OperationType: 3, StoreType: 101, StorePath: path,
			StorePassword: "store-pw", Alias: "web"}, jobs.StatusWarning, nil},
	}
	for _, st := range steps {
		status, msg, _ := a.manage(st.job)
		if status != st.status {
			t.Fatalf("%s: status %d (%s), want %d", st.name, status, msg, st.status)
		}
		items := inv()
		switch {
		case st.leaf == nil && len(items) != 0:
			t.Fatalf("%s: store holds %d entries", st.name, len(items))
		case st.leaf != nil && (len(items) != 1 || items[0].Alias != "web" || pki.ThumbprintDER(items[0].Certificates[0]) != pki.ThumbprintDER(st.leaf.Raw)):
			t.Fatalf("%s: store holds %+v", st.name, items)
		}
	}
	if status, _, impossible := a.manage(orchestrator.ManagementJob{OperationType: 2, StoreType: 1000, StorePath: path}); status != jobs.StatusError || !impossible {
		t.Fatal("a custom store type is not reported impossible")
	}
}
