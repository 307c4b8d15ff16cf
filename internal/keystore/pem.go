package keystore

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
)

// EncodePEM encodes b as a PEM bundle: first an "ENCRYPTED PRIVATE KEY"
// block (see EncryptPKCS8; encrypted with o.Password), then one
// CERTIFICATE block per certificate in o.Order (leaf first for
// EndEntityFirst, root first for RootFirst). With o.IncludeSubjectHeader,
// each CERTIFICATE block is preceded by a line SubjectHeader(cert); PEM
// readers ignore text between blocks. o.Profile does not apply.
func EncodePEM(b Bundle, o Options) ([]byte, error) {
	s, err := o.settingsFor(b)
	if err != nil {
		return nil, err
	}
	key, err := EncryptPKCS8(b.Key, s.Password, s.iterations, s.rand)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := pem.Encode(&buf, key); err != nil {
		return nil, err
	}
	buf.Write(CertsPEM(b.certs(s.Order), s.IncludeSubjectHeader))
	return buf.Bytes(), nil
}

// CertsPEM writes certificates as CERTIFICATE blocks in the given order,
// each optionally after its SubjectHeader line: the certificates of PEM and
// ZIP packages and of a PEM download (internal/retrieve).
func CertsPEM(certs []*x509.Certificate, subjectHeader bool) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		if subjectHeader {
			buf.WriteString(SubjectHeader(c))
			buf.WriteByte('\n')
		}
		// pem.Encode fails only on a bad header key; there are none.
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}
