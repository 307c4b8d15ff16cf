package keystore

import (
	"archive/zip"
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"strings"
	"time"
)

// maxZIPBaseName caps the base name's length in bytes: file names stay
// short enough for every unzip tool and file system.
const maxZIPBaseName = 64

// EncodeZIP encodes b as a ZIP archive of PEM files named after
// zipBaseName(b), in this order:
//
//	<name>.crt            the leaf certificate
//	<name>-chain.pem      the CA certificates in o.Order; left out when b.Chain is empty
//	<name>-fullchain.pem  the leaf and the CA certificates in o.Order
//	<name>.key            the private key as an ENCRYPTED PRIVATE KEY block (see EncryptPKCS8)
//
// With o.IncludeSubjectHeader every CERTIFICATE block is preceded by its
// SubjectHeader line. Files are deflated, dated o.Now (the leaf's NotBefore
// when zero), mode 0600 for the key and 0644 for the others.
func EncodeZIP(b Bundle, o Options) ([]byte, error) {
	s, err := o.settingsFor(b)
	if err != nil {
		return nil, err
	}
	key, err := EncryptPKCS8(b.Key, s.Password, s.iterations, s.rand)
	if err != nil {
		return nil, err
	}
	name := zipBaseName(b)
	files := []zipMember{{name + ".crt", 0o644, CertsPEM([]*x509.Certificate{b.Leaf}, s.IncludeSubjectHeader)}}
	if len(b.Chain) > 0 {
		files = append(files, zipMember{name + "-chain.pem", 0o644, CertsPEM(b.chainInOrder(s.Order), s.IncludeSubjectHeader)})
	}
	files = append(files,
		zipMember{name + "-fullchain.pem", 0o644, CertsPEM(b.certs(s.Order), s.IncludeSubjectHeader)},
		zipMember{name + ".key", 0o600, pem.EncodeToMemory(key)},
	)

	modified := s.now(b).UTC().Truncate(time.Second)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: modified}
		h.SetMode(f.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// zipMember is one file of the archive.
type zipMember struct {
	name string
	mode fs.FileMode
	data []byte
}

// zipBaseName derives the file base name: the friendly name, else the
// leaf's common name, else "certificate"; every character other than ASCII
// letters, digits, '.', '-' and '_' becomes '_' (so "*.example.com" gives
// "_.example.com"), leading dots are dropped (no hidden files, no ".."),
// the result is cut to maxZIPBaseName bytes, and Windows device names
// (CON, NUL, COM1, ...) get a leading '_'.
func zipBaseName(b Bundle) string {
	src := b.FriendlyName
	if src == "" && b.Leaf != nil {
		src = b.Leaf.Subject.CommonName
	}
	var sb strings.Builder
	for _, r := range src {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			sb.WriteRune(r)
		default:
			sb.WriteByte('_')
		}
	}
	name := strings.TrimLeft(sb.String(), ".")
	if len(name) > maxZIPBaseName {
		name = name[:maxZIPBaseName]
	}
	if name == "" {
		return "certificate"
	}
	stem, _, _ := strings.Cut(strings.ToUpper(name), ".")
	switch stem {
	case "CON", "PRN", "AUX", "NUL",
		"COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9":
		name = "_" + name
	}
	return name
}
