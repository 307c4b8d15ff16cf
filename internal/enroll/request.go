// Package enroll is THE enrollment flow and the only place its steps are
// ordered: resolve the pattern, template and CA; check the request against
// the system-wide policy, the pattern and the template; generate the key;
// have the CA connector issue; package the result in the asked format; and
// record request, certificate, metadata, owner and retained key in one
// transaction. A 200 from the transport means that transaction committed.
package enroll

import (
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
	EnrollmentContext  map[string]string
}

// Dispositions.
const (
	DispositionIssued  = "ISSUED"
	DispositionPending = "PENDING"
)
