// Package policy holds certdock's enrollment configuration — templates,
// enrollment patterns, the system-wide enrollment policy, application
// settings and metadata fields — and the pure rules that evaluate a request
// against them (key algorithms and sizes, subject rules, metadata values,
// owner role). It does no I/O: storage hands it values, it hands back
// decisions or errs errors that name the field and the refusing level.
package policy

import "time"

// KeyRetention says whether certdock keeps the private key of PFX enrollments
// for later recovery. The numbers match Keyfactor's KeyRetentionPolicy enum.
type KeyRetention int

const (
	RetentionNone            KeyRetention = 0 // keys are not retained
	RetentionIndefinite      KeyRetention = 1 // kept until deleted
	RetentionAfterExpiration KeyRetention = 2 // kept for KeyRetentionDays after the certificate expires
	RetentionFromIssuance    KeyRetention = 3 // kept for KeyRetentionDays after issuance
)

// Enrollment types, a bit set as in Keyfactor's AllowedEnrollmentTypes.
const (
	EnrollPFX  = 1
	EnrollCSR  = 2
	EnrollAuto = 4
)

// OwnerRolePolicy is the Certificate Owner Role policy (Keyfactor's
// TemplateCertificateOwnerRole enum).
type OwnerRolePolicy int

const (
	OwnerOptional   OwnerRolePolicy = 0
	OwnerRequired   OwnerRolePolicy = 1
	OwnerProhibited OwnerRolePolicy = 2
)

// AlgorithmData lists what is allowed for one key algorithm. JSON names follow
// Keyfactor's KeyInfo model (snake case on the wire).
type AlgorithmData struct {
	BitLengths []int    `json:"bit_lengths,omitempty"`
	Curves     []string `json:"curves,omitempty"` // OIDs
}

// KeyInfo is a set of allowed key algorithms; a nil member disallows it.
type KeyInfo struct {
	RSA     *AlgorithmData `json:"RSA,omitempty"`
	ECDSA   *AlgorithmData `json:"ECDSA,omitempty"`
	Ed25519 *AlgorithmData `json:"Ed25519,omitempty"`
	Ed448   *AlgorithmData `json:"Ed448,omitempty"`
}

// Curve OIDs as Keyfactor writes them.
const (
	OIDP256    = "1.2.840.10045.3.1.7"
	OIDP384    = "1.3.132.0.34"
	OIDP521    = "1.3.132.0.35"
	OIDEd25519 = "1.3.101.112"
	OIDEd448   = "1.3.101.113"
)

// DefaultKeyInfo allows every algorithm certdock can generate.
func DefaultKeyInfo() KeyInfo {
	return KeyInfo{
		RSA:     &AlgorithmData{BitLengths: []int{2048, 3072, 4096}},
		ECDSA:   &AlgorithmData{Curves: []string{OIDP256, OIDP384, OIDP521}},
		Ed25519: &AlgorithmData{Curves: []string{OIDEd25519}},
	}
}

// SubjectRegex constrains one subject part (CN, O, ..., or a SAN type).
type SubjectRegex struct {
	SubjectPart   string
	Regex         string
	Error         string
	CaseSensitive bool
}

// SubjectDefault fills a subject part the request leaves out.
type SubjectDefault struct {
	SubjectPart string
	Value       string
}

// Enrollment field data types (Keyfactor TemplateEnrollmentFieldType).
const (
	FieldString         = 1
	FieldMultipleChoice = 2
)

// EnrollmentField is a custom request attribute the pattern asks for.
type EnrollmentField struct {
	Name     string
	DataType int
	Options  []string
	Required bool
}

// Metadata enrollment settings (Keyfactor MetadataTypeEnrollment).
const (
	MetadataOptional = 0
	MetadataRequired = 1
	MetadataHidden   = 2
)

// MetadataRule overrides a metadata field's enrollment settings for one pattern.
type MetadataRule struct {
	MetadataID   int64
	DefaultValue string
	Validation   string
	Enrollment   int
	Message      string
}

// Template is a certificate template: the certificate profile a CA issues.
type Template struct {
	ID                     int64
	CommonName             string // short name used in enrollment requests
	TemplateName           string
	DisplayName            string
	FriendlyName           string
	OID                    string
	ValidityDays           int
	KeyUsage               int      // x509.KeyUsage bits; 0 = derive per key type
	ExtendedKeyUsage       []string // OIDs
	KeyInfo                KeyInfo  // algorithms the template supports
	DefaultKeyType         string   // used when the request names no key type
	DefaultKeySize         int
	KeyRetention           KeyRetention
	KeyRetentionDays       int
	CAIDs                  []int64 // CAs that offer this template
	RequiresApproval       bool
	AllowedEnrollmentTypes int
	RFCEnforcement         bool
	AllowOneClickRenewals  bool
}

// Pattern is an enrollment pattern: a template plus request policy.
type Pattern struct {
	ID                     int64
	Name                   string
	Description            string
	TemplateID             int64
	TemplateDefault        bool
	RestrictCAs            bool
	CAIDs                  []int64
	KeyInfo                *KeyInfo // nil: no pattern-level key restriction
	Regexes                []SubjectRegex
	Defaults               []SubjectDefault
	EnrollmentFields       []EnrollmentField
	MetadataRules          []MetadataRule
	OwnerRolePolicy        OwnerRolePolicy
	DefaultOwnerRoleID     *int64
	RequiresApproval       bool
	AssociatedRoles        []string
	AllowedEnrollmentTypes int
	AllowWildcards         bool
}

// Settings are the system-wide enrollment policy and application settings.
type Settings struct {
	PasswordLength            int
	CommonNameRegex           string
	RequireCustomFriendlyName bool
	AllowCSPs                 bool
	CSPs                      []string
	KeyInfo                   KeyInfo
	OwnerRolePolicy           OwnerRolePolicy
	DefaultOwnerRoleID        *int64
	AllowWildcards            bool
	Regexes                   []SubjectRegex
	Defaults                  []SubjectDefault
}

// DefaultSettings are the documented Keyfactor defaults.
func DefaultSettings() Settings {
	return Settings{
		PasswordLength:  12,
		CommonNameRegex: ".+",
		CSPs: []string{
			"Microsoft Enhanced Cryptographic Provider v1.0",
			"Microsoft Enhanced RSA and AES Cryptographic Provider",
			"Microsoft Software Key Storage Provider",
			"Microsoft Strong Cryptographic Provider",
		},
		KeyInfo:        DefaultKeyInfo(),
		AllowWildcards: true,
	}
}

// Metadata field data types (Keyfactor MetadataDataType), 1 to 7 in this order.
const (
	MetaString         = 1
	MetaInteger        = 2
	MetaDate           = 3
	MetaBoolean        = 4
	MetaMultipleChoice = 5
	MetaBigText        = 6
	MetaEmail          = 7
)

// MetadataField is a custom certificate metadata field.
type MetadataField struct {
	ID            int64
	Name          string
	Description   string
	DataType      int
	Hint          string
	Validation    string // regular expression for String fields
	Enrollment    int    // MetadataOptional, MetadataRequired, MetadataHidden
	Message       string // shown when Validation fails
	Options       []string
	DefaultValue  string
	DisplayOrder  int
	AllowAPI      bool
	CaseSensitive bool
}

// CA describes a certificate authority as configured.
type CA struct {
	ID                     int64
	LogicalName            string
	HostName               string
	Standalone             bool
	Kind                   string // "embedded"
	Role                   string // "root" or "issuing"
	AllowedEnrollmentTypes int
	KeyRetention           KeyRetention
	KeyRetentionDays       int
	// Standalone CAs issue without a template: this is their profile.
	StandaloneValidityDays int
	StandaloneEKUs         []string
	CreatedAt              time.Time
}

// Name is HOST\LogicalName.
func (c CA) Name() string { return c.HostName + `\` + c.LogicalName }
