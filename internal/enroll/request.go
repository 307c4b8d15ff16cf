// Package enroll is THE enrollment flow and the only place its steps are
// ordered: resolve the pattern, template and CA; check the request against
// the system-wide policy, the pattern and the template; generate the key;
// have the CA connector issue; package the result in the asked format; and
// record request, certificate, metadata, owner and retained key in one
// transaction. A 200 from the transport means that transaction committed.
package enroll

import (
	"crypto/x509"
	"time"

	"github.com/certdock/certdock/internal/keystore"
)

// Format is the x-certificateformat of a PFX enrollment.
type Format string

// Formats.
const (
	FormatPFX     Format = "PFX"
	FormatPEM     Format = "PEM"
	FormatZIP     Format = "ZIP"
	FormatJKS     Format = "JKS"
	FormatSTORE   Format = "STORE"
	FormatREPLACE Format = "REPLACE"
)

// StoreTarget is one entry of v2 Stores.
type StoreTarget struct {
	StoreID    string
	Alias      string
	Overwrite  bool
	Properties map[string]any
	// FromRenewal marks a store added by InstallIntoExistingCertificateStores.
	FromRenewal bool
}

// PFXRequest is a server-side key generation request, decoded from either
// API version.
type PFXRequest struct {
	APIVersion int // 1 or 2
	Format     Format

	Template             string
	EnrollmentPatternID  int64 // 0 = absent
	CertificateAuthority string

	KeyType   string
	KeyLength int
	Curve     string

	Subject string
	SANs    map[string][]string

	Password           string
	CustomFriendlyName string
	MicrosoftTargetCSP string

	Metadata                   map[string]string
	AdditionalEnrollmentFields map[string]string

	OwnerRoleID   int64 // 0 = absent
	OwnerRoleName string

	RenewalCertificateID int64 // 0 = absent
	Timestamp            time.Time

	PopulateMissingValuesFromAD bool

	IncludeChain         bool
	ChainOrder           keystore.ChainOrder
	IncludeSubjectHeader bool
	UseLegacyEncryption  bool

	// v2
	Stores                               []StoreTarget
	InstallIntoExistingCertificateStores bool
	JobTime                              *time.Time
}

// PFXResult is what the transport renders.
type PFXResult struct {
	CertificateID      int64
	RequestID          int64
	SerialNumber       string
	IssuerDN           string
	Thumbprint         string
	Blob               []byte // in the asked format; nil for STORE
	Password           string
	Disposition        string
	DispositionMessage string
	Metadata           map[string]string
	SuccessfulStores   []string
	// WorkflowInstanceID is set when the enrollment waits for approval
	// (Disposition PENDING); RequestID is then the pending request.
	WorkflowInstanceID string
	// StoreIdsInvalidForRenewal are stores holding the renewed certificate
	// that the caller may not schedule into.
	StoreIdsInvalidForRenewal []string
	EnrollmentContext         map[string]string
}

// Dispositions.
const (
	DispositionIssued  = "ISSUED"
	DispositionPending = "PENDING"
)

// CSR enrollment formats (x-certificateformat of POST /Enrollment/CSR).
const FormatDER Format = "DER"

// CSRRequest is an enrollment for a key the client holds: the subject, SANs
// and public key come from the PKCS#10 request, plus the request's SANs.
type CSRRequest struct {
	Format Format // PEM or DER: how CSRResult.Certificates are encoded

	CSR []byte // as sent: PEM, bare base64 of the DER, or DER

	Template             string
	EnrollmentPatternID  int64 // 0 = absent
	CertificateAuthority string

	SANs map[string][]string // added to the CSR's own SANs

	Metadata                   map[string]string
	AdditionalEnrollmentFields map[string]string

	OwnerRoleID   int64 // 0 = absent
	OwnerRoleName string

	Timestamp    time.Time
	IncludeChain bool
}

// CSRResult is what the transport renders for a CSR enrollment.
type CSRResult struct {
	CertificateID      int64
	RequestID          int64
	SerialNumber       string
	IssuerDN           string
	Thumbprint         string
	Certificates       []string // leaf first, then the chain when asked; PEM or base64 DER
	Disposition        string
	DispositionMessage string
	Metadata           map[string]string
	EnrollmentContext  map[string]string
}

// Enrollment kinds, as recorded in certificate_requests.kind.
const (
	KindPFX = "pfx"
	KindCSR = "csr"
)

// request is what the one enrollment path checks and records: the part every
// enrollment kind shares. EnrollPFX and EnrollCSR (and Renew, through
// EnrollPFX) translate their requests into it.
type request struct {
	kind       string // KindPFX or KindCSR
	apiVersion int

	template  string
	patternID int64
	caName    string

	// KindPFX: the key to generate.
	keyType   string
	keyLength int
	curve     string
	// KindCSR: the decoded request, its self-signature verified.
	csr *x509.CertificateRequest

	subject    string              // KindPFX; KindCSR takes the CSR's subject
	sans       map[string][]string // KindCSR: added to the CSR's SANs
	populateAD bool

	metadata map[string]string
	fields   map[string]string

	ownerRoleID   int64
	ownerRoleName string
	renewalID     int64
	timestamp     time.Time

	pfx    *PFXRequest   // KindPFX: packaging and delivery options; nil otherwise
	held   *HeldIssuance // an approved held enrollment being issued (approval.go)
	csrReq *CSRRequest
}

func fromPFX(r *PFXRequest) *request {
	return &request{
		kind: KindPFX, apiVersion: r.APIVersion, template: r.Template, patternID: r.EnrollmentPatternID,
		caName: r.CertificateAuthority, keyType: r.KeyType, keyLength: r.KeyLength, curve: r.Curve,
		subject: r.Subject, sans: r.SANs, populateAD: r.PopulateMissingValuesFromAD,
		metadata: r.Metadata, fields: r.AdditionalEnrollmentFields, ownerRoleID: r.OwnerRoleID,
		ownerRoleName: r.OwnerRoleName, renewalID: r.RenewalCertificateID, timestamp: r.Timestamp, pfx: r,
	}
}

func fromCSR(r *CSRRequest) *request {
	return &request{
		kind: KindCSR, apiVersion: 1, template: r.Template, patternID: r.EnrollmentPatternID,
		caName: r.CertificateAuthority, sans: r.SANs, metadata: r.Metadata, fields: r.AdditionalEnrollmentFields,
		ownerRoleID: r.OwnerRoleID, ownerRoleName: r.OwnerRoleName, timestamp: r.Timestamp, csrReq: r,
	}
}
