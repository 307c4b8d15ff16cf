// Package certificate is certdock's certificate inventory: the record kept
// for every issued certificate (state, key facts, requester, owner, metadata,
// revocation, locations), the fields the pq.queryString language can filter
// and sort on, and the read service behind GET /Certificates.
package certificate

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"time"

	"github.com/certdock/certdock/internal/pki"
)

// State is Keyfactor's CertState.
type State int

const (
	StateUnknown            State = 0
	StateActive             State = 1
	StateRevoked            State = 2
	StateDenied             State = 3
	StateFailed             State = 4
	StatePending            State = 5
	StateCA                 State = 6
	StateParentCA           State = 7
	StateExternalValidation State = 8
)

var stateNames = map[State]string{
	StateUnknown: "Unknown", StateActive: "Active", StateRevoked: "Revoked", StateDenied: "Denied",
	StateFailed: "Failed", StatePending: "Pending", StateCA: "CertificateAuthority",
	StateParentCA: "ParentCertificateAuthority", StateExternalValidation: "ExternalValidation",
}

func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return "Unknown"
}

// KeyType is Keyfactor's certificate KeyType number.
type KeyType int

const (
	KeyUnknown KeyType = 0
	KeyRSA     KeyType = 1
	KeyDSA     KeyType = 2
	KeyECC     KeyType = 3
	KeyDH      KeyType = 4
	KeyEd25519 KeyType = 5
	KeyEd448   KeyType = 6
)

var keyTypeNames = map[KeyType]string{KeyUnknown: "Unknown", KeyRSA: "RSA", KeyDSA: "DSA", KeyECC: "ECC", KeyDH: "DH", KeyEd25519: "Ed25519", KeyEd448: "Ed448"}

func (k KeyType) String() string {
	if n, ok := keyTypeNames[k]; ok {
		return n
	}
	return "Unknown"
}

// SAN is one subject alternative name element. Type follows the X.509
// GeneralName numbering Keyfactor uses (1 rfc822, 2 dNSName, 6 URI, 7 IP,
// 100 MS UPN).
type SAN struct {
	Type  int
	Value string
}

// SAN types.
const (
	SANEmail = 1
	SANDNS   = 2
	SANURI   = 6
	SANIP    = 7
	SANUPN   = 100
)

// EKU is an extended key usage.
type EKU struct {
	OID         string
	DisplayName string
}

// Revocation records a revocation.
type Revocation struct {
	EffectiveDate time.Time
	Reason        int
	Comment       string
}

// Record is one certificate in the inventory.
type Record struct {
	ID                    int64
	Thumbprint            string // upper-case hex SHA-1
	SerialNumber          string // upper-case hex
	IssuerDN              string
	IssuedDN              string
	IssuedCN              string
	IssuedOU              string
	IssuedEmail           string
	NotBefore             time.Time
	NotAfter              time.Time
	ImportDate            time.Time
	State                 State
	KeyType               KeyType
	KeySize               int
	KeyAlgorithm          string // OID of the public key algorithm
	Curve                 string // OID of the curve, "" for RSA
	SigningAlgorithm      string
	KeyUsage              int
	TemplateID            *int64
	PatternID             *int64
	CAID                  *int64
	CertRequestID         *int64
	RequesterID           *int64
	RequesterName         string
	OwnerRoleID           *int64
	OwnerRoleName         string // filled on read
	RenewedFromID         *int64
	Revocation            *Revocation
	DER                   []byte
	SANs                  []SAN
	EKUs                  []EKU
	CRLDistributionPoints []string
	Metadata              map[string]string
	HasPrivateKey         bool // certdock holds a key (retained, or kept only for store delivery)
	// KeyRetained says the held key is retained for recovery (not kept
	// only for store delivery: delivery_enrollments.key_for_delivery_only),
	// until KeyRetainUntil (nil: indefinitely). RecoverableAt combines them.
	KeyRetained    bool
	KeyRetainUntil *time.Time
	TemplateName   string // filled on read
	CAName         string // filled on read
}

var ekuNames = map[string]string{
	"1.3.6.1.5.5.7.3.1": "Server Authentication", "1.3.6.1.5.5.7.3.2": "Client Authentication",
	"1.3.6.1.5.5.7.3.3": "Code Signing", "1.3.6.1.5.5.7.3.4": "Secure Email",
	"1.3.6.1.5.5.7.3.8": "Time Stamping", "1.3.6.1.5.5.7.3.9": "OCSP Signing",
	"1.3.6.1.4.1.311.20.2.2": "Smart Card Logon",
}

// EKUName is the display name of an EKU OID.
func EKUName(oid string) string {
	if n, ok := ekuNames[oid]; ok {
		return n
	}
	return oid
}

// FromX509 fills the record fields that come from the certificate itself.
func FromX509(c *x509.Certificate) Record {
	r := Record{
		Thumbprint:            pki.Thumbprint(c),
		SerialNumber:          pki.SerialHex(c),
		IssuerDN:              pki.IssuerDN(c),
		IssuedDN:              pki.IssuedDN(c),
		IssuedCN:              c.Subject.CommonName,
		NotBefore:             c.NotBefore.UTC(),
		NotAfter:              c.NotAfter.UTC(),
		SigningAlgorithm:      c.SignatureAlgorithm.String(),
		KeyUsage:              int(c.KeyUsage),
		DER:                   c.Raw,
		CRLDistributionPoints: c.CRLDistributionPoints,
	}
	if len(c.Subject.OrganizationalUnit) > 0 {
		r.IssuedOU = c.Subject.OrganizationalUnit[0]
	}
	for _, a := range c.Subject.Names {
		if a.Type.String() == "1.2.840.113549.1.9.1" {
			if s, ok := a.Value.(string); ok {
				r.IssuedEmail = s
			}
		}
	}
	if r.IssuedEmail == "" && len(c.EmailAddresses) > 0 {
		r.IssuedEmail = c.EmailAddresses[0]
	}
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		r.KeyType, r.KeySize, r.KeyAlgorithm = KeyRSA, k.N.BitLen(), "1.2.840.113549.1.1.1"
	case *ecdsa.PublicKey:
		r.KeyType, r.KeySize, r.KeyAlgorithm = KeyECC, k.Curve.Params().BitSize, "1.2.840.10045.2.1"
		switch k.Curve.Params().BitSize {
		case 256:
			r.Curve = "1.2.840.10045.3.1.7"
		case 384:
			r.Curve = "1.3.132.0.34"
		case 521:
			r.Curve = "1.3.132.0.35"
		}
	case ed25519.PublicKey:
		r.KeyType, r.KeySize, r.KeyAlgorithm, r.Curve = KeyEd25519, 256, "1.3.101.112", "1.3.101.112"
	}
	for _, d := range c.DNSNames {
		r.SANs = append(r.SANs, SAN{Type: SANDNS, Value: d})
	}
	for _, ip := range c.IPAddresses {
		r.SANs = append(r.SANs, SAN{Type: SANIP, Value: ip.String()})
	}
	for _, e := range c.EmailAddresses {
		r.SANs = append(r.SANs, SAN{Type: SANEmail, Value: e})
	}
	for _, u := range c.URIs {
		r.SANs = append(r.SANs, SAN{Type: SANURI, Value: u.String()})
	}
	for _, e := range c.ExtKeyUsage {
		if oid, ok := ExtKeyUsageOID[e]; ok {
			r.EKUs = append(r.EKUs, EKU{OID: oid, DisplayName: EKUName(oid)})
		}
	}
	for _, o := range c.UnknownExtKeyUsage {
		r.EKUs = append(r.EKUs, EKU{OID: o.String(), DisplayName: EKUName(o.String())})
	}
	return r
}

// ExtKeyUsageOID maps the standard library's EKU constants to their OIDs.
var ExtKeyUsageOID = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny: "2.5.29.37.0", x509.ExtKeyUsageServerAuth: "1.3.6.1.5.5.7.3.1",
	x509.ExtKeyUsageClientAuth: "1.3.6.1.5.5.7.3.2", x509.ExtKeyUsageCodeSigning: "1.3.6.1.5.5.7.3.3",
	x509.ExtKeyUsageEmailProtection: "1.3.6.1.5.5.7.3.4", x509.ExtKeyUsageTimeStamping: "1.3.6.1.5.5.7.3.8",
	x509.ExtKeyUsageOCSPSigning: "1.3.6.1.5.5.7.3.9",
}

// Request is a certificate request as recorded.
type Request struct {
	ID            int64
	CreatedAt     time.Time
	RequesterID   *int64
	RequesterName string
	Kind          string // "pfx" or "csr"
	State         State
	TemplateID    *int64
	PatternID     *int64
	CAID          *int64
	Subject       string
	Doc           []byte // the request parameters as JSON, without secrets
	CertificateID *int64
}

// HistoryEntry is one thing that happened to a certificate.
type HistoryEntry struct {
	ID        int64
	CertID    int64
	At        time.Time
	Operation string
	Actor     string
	Message   string
}

// History operations.
const (
	OpEnrolled   = "Enrolled"
	OpRenewed    = "Renewed"
	OpRecovered  = "Recovered"
	OpRevoked    = "Revoked"
	OpDownloaded = "Downloaded"
	OpMetadata   = "MetadataUpdated"
	OpDeployed   = "Deployed"
)

// ExtKeyUsageByOID is the standard library constant for an EKU OID.
func ExtKeyUsageByOID(oid string) (x509.ExtKeyUsage, bool) {
	for e, o := range ExtKeyUsageOID {
		if o == oid {
			return e, true
		}
	}
	return 0, false
}

// RecoverableAt says whether POST /Certificates/Recover can return the
// certificate's key at now: the rule retrieve.Recover applies.
func (r Record) RecoverableAt(now time.Time) bool {
	return r.KeyRetained && (r.KeyRetainUntil == nil || !now.After(*r.KeyRetainUntil))
}
