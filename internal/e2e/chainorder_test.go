package e2e

import (
	"crypto"
	"testing"
	"time"

	kfv1 "github.com/Keyfactor/keyfactor-go-client-sdk/v25/api/keyfactor/v1"
)

// With ChainOrder RootFirst a PFX still has the leaf first, so go-pkcs12's
// DecodeChain (what the Keyfactor Go client uses) returns the enrolled
// certificate and its key; the CA certificates follow root first.
func TestEnrollPFX_ChainOrderGoPKCS12(t *testing.T) {
	in := start(t, "")
	c, err := kfv1.NewAPIClient(in.sdkConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, order := range []string{"EndEntityFirst", "RootFirst"} {
		t.Run(order, func(t *testing.T) {
			req := kfv1.NewEnrollmentPFXEnrollmentRequest()
			req.SetTemplate("WebServer")
			req.SetSubject("CN=" + order + ".example.com")
			req.SetPassword("chain-order-pass-123")
			req.SetChainOrder(order)
			req.SetIncludeChain(true)
			req.SetTimestamp(time.Now().UTC())
			leaf, key, cas := enrollPFXv1Chain(t, c, req)
			if leaf.Subject.CommonName != order+".example.com" {
				t.Fatalf("DecodeChain leaf is %s, want CN=%s.example.com", leaf.Subject, order)
			}
			if pub, ok := key.(interface{ Public() crypto.PublicKey }); !ok ||
				!leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub.Public()) {
				t.Error("the private key does not match the leaf")
			}
			if len(cas) != 2 {
				t.Fatalf("%d CA certificates, want 2 (issuing CA and root)", len(cas))
			}
			root, issuing := cas[1], cas[0]
			if order == "RootFirst" {
				root, issuing = cas[0], cas[1]
			}
			if root.Subject.String() != root.Issuer.String() || issuing.Subject.String() != leaf.Issuer.String() {
				t.Errorf("CA order for %s: got %s then %s", order, cas[0].Subject, cas[1].Subject)
			}
		})
	}
}
