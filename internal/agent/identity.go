package agent

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/certdock/certdock/internal/atomicfile"
)

// The data directory holds the agent's identity:
//
//	agent.key   its private key (PKCS#8 PEM, mode 0600), made on first start
//	agent.crt   its client certificate (PEM), from registration
//	agent.json  {"AgentId": "...", "ClientMachine": "..."}
const (
	keyFile   = "agent.key"
	certFile  = "agent.crt"
	stateFile = "agent.json"
)

type state struct {
	AgentId       string
	ClientMachine string
}

type identity struct {
	dir   string
	key   crypto.Signer
	cert  *x509.Certificate // nil before registration
	state state
}

// loadIdentity reads the data directory, creating the directory (0700) and
// the key (0600) when missing.
func loadIdentity(dir string) (*identity, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	id := &identity{dir: dir}
	kp := filepath.Join(dir, keyFile)
	b, err := os.ReadFile(kp)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		if err := atomicfile.WriteFile(kp, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("agent key: %w", err)
		}
		id.key = k
	case err != nil:
		return nil, fmt.Errorf("agent key: %w", err)
	default:
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("agent key %s: not a PKCS#8 PEM private key", kp)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("agent key %s: %w", kp, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("agent key %s: unsupported key type %T", kp, k)
		}
		id.key = s
	}
	if b, err := os.ReadFile(filepath.Join(dir, stateFile)); err == nil {
		if err := json.Unmarshal(b, &id.state); err != nil {
			return nil, fmt.Errorf("%s: %w", stateFile, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if b, err := os.ReadFile(filepath.Join(dir, certFile)); err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s: no PEM certificate", certFile)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", certFile, err)
		}
		id.cert = c
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if id.cert != nil && !publicKeyMatches(id.key, id.cert) {
		id.cert = nil // a certificate for another key is useless: enroll again
	}
	return id, nil
}

func publicKeyMatches(k crypto.Signer, c *x509.Certificate) bool {
	eq, ok := k.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(c.PublicKey)
}

// registered reports whether the agent has an id and a usable certificate.
func (id *identity) registered() bool { return id.state.AgentId != "" && id.cert != nil }

// csr is a PKCS#10 request for the agent's key, PEM.
func (id *identity) csr(clientMachine string) (string, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: clientMachine}}, id.key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}

// save records a registration: the agent id and the certificate (given as
// base64 DER or PEM).
func (id *identity) save(agentID, clientMachine, certText string) error {
	if certText != "" {
		der, err := decodeCert(certText)
		if err != nil {
			return err
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("registration certificate: %w", err)
		}
		if !publicKeyMatches(id.key, c) {
			return errors.New("registration certificate is not for this agent's key")
		}
		if err := atomicfile.WriteFile(filepath.Join(id.dir, certFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			return err
		}
		id.cert = c
	}
	id.state = state{AgentId: agentID, ClientMachine: clientMachine}
	b, _ := json.MarshalIndent(id.state, "", "  ")
	return atomicfile.WriteFile(filepath.Join(id.dir, stateFile), append(b, '\n'), 0o600)
}

func decodeCert(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if strings.HasPrefix(text, "-----BEGIN") {
		blk, _ := pem.Decode([]byte(text))
		if blk == nil {
			return nil, errors.New("registration certificate: bad PEM")
		}
		return blk.Bytes, nil
	}
	der, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("registration certificate: %w", err)
	}
	return der, nil
}

// tlsCert is the client certificate for mTLS.
func (id *identity) tlsCert() *tls.Certificate {
	if id.cert == nil {
		return nil
	}
	return &tls.Certificate{Certificate: [][]byte{id.cert.Raw}, PrivateKey: id.key, Leaf: id.cert}
}
