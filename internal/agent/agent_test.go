package agent

import (
	"crypto"
	"os"
	"path/filepath"
	"testing"

	"github.com/certdock/certdock/internal/orchestrator"
	"github.com/certdock/certdock/internal/storefile"
)

func TestStoreOf(t *testing.T) {
	cases := []struct {
		name      string
		storeType int
		props     string
		want      storefile.Store
		wantErr   bool
	}{
		{"PEM with key and chain paths", 100, `{"PrivateKeyPath":"/k.pem","chainpath":"/c.pem"}`,
			storefile.Store{Kind: storefile.PEM, Path: "/s", PrivateKeyPath: "/k.pem", ChainPath: "/c.pem"}, false},
		{"PEM value objects", 100, `{"PrivateKeyPath":{"value":"/k.pem"}}`,
			storefile.Store{Kind: storefile.PEM, Path: "/s", PrivateKeyPath: "/k.pem"}, false},
		{"PKCS12", 101, ``, storefile.Store{Kind: storefile.PKCS12, Path: "/s"}, false},
		{"JKS PKCS12 type", 102, `{"KeystoreType":"PKCS12"}`, storefile.Store{Kind: storefile.JKS, Path: "/s", KeystoreType: "PKCS12"}, false},
		{"custom store type", 1000, `{}`, storefile.Store{}, true},
		{"bad properties", 100, `[1]`, storefile.Store{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := storeOf(tc.storeType, "/s", "", tc.props, false)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			if err == nil && (got.Kind != tc.want.Kind || got.Path != tc.want.Path || got.PrivateKeyPath != tc.want.PrivateKeyPath ||
				got.ChainPath != tc.want.ChainPath || got.KeystoreType != tc.want.KeystoreType) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestIdentity_KeyMadeOnceWithMode0600(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	id, err := loadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, keyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode %v", di.Mode().Perm())
	}
	again, err := loadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !publicKeyMatchesKey(again, id) {
		t.Fatal("a second start made a new key")
	}
	if id.registered() {
		t.Fatal("registered without a certificate")
	}
	if _, err := id.csr("web01"); err != nil {
		t.Fatal(err)
	}
	if err := id.save("x", "web01", "not base64!"); err == nil {
		t.Fatal("saved a garbage certificate")
	}
}

func TestConfigCheck(t *testing.T) {
	ok := Config{Server: "https://h:1", DataDir: "d", CACert: "c", ClientMachine: "m"}
	if err := ok.check(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Config{
		{Server: "http://h:1", DataDir: "d", CACert: "c", ClientMachine: "m"},
		{Server: "https://h:1", CACert: "c", ClientMachine: "m"},
		{Server: "https://h:1", DataDir: "d", ClientMachine: "m"},
		{Server: "https://h:1", DataDir: "d", CACert: "c"},
		{Server: "https://h:1", DataDir: "d", CACert: "c", ClientMachine: "m", Token: "t", Username: "u", Password: "p"},
		{Server: "https://h:1", DataDir: "d", CACert: "c", ClientMachine: "m", Username: "u"},
	} {
		if err := bad.check(); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

// FuzzEntryOf decodes management job contents as a server sends them.
func FuzzEntryOf(f *testing.F) {
	f.Add("MIIB", "", false)
	f.Add("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t", "", false)
	f.Add("MIIBAAAA", "pfx-pass", true)
	f.Fuzz(func(t *testing.T, contents, pfxPassword string, key bool) {
		_, _ = entryOf(orchestrator.ManagementJob{EntryContents: contents, PfxPassword: pfxPassword, PrivateKeyEntry: key})
	})
}

func FuzzDecodeCert(f *testing.F) {
	f.Add("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")
	f.Add("MIIBAA==")
	f.Fuzz(func(t *testing.T, s string) { _, _ = decodeCert(s) })
}

func publicKeyMatchesKey(a, b *identity) bool {
	type eq interface{ Equal(crypto.PublicKey) bool }
	return a.key.Public().(eq).Equal(b.key.Public())
}
