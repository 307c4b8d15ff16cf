package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/certdock/certdock/internal/policy"
)

// Setup is the declarative setup file: objects created or updated (by name)
// at every start, so a server can be rebuilt from it. Passwords in it are
// read from the environment variable named by PasswordEnv, never written in
// the file.
type Setup struct {
	Settings       *policy.Settings `json:"Settings,omitempty"`
	MetadataFields []SetupMetadata  `json:"MetadataFields,omitempty"`
	CAs            []SetupCA        `json:"CertificateAuthorities,omitempty"`
	Templates      []SetupTemplate  `json:"Templates,omitempty"`
	Patterns       []SetupPattern   `json:"EnrollmentPatterns,omitempty"`
	Identities     []SetupIdentity  `json:"Identities,omitempty"`
	Roles          []SetupRole      `json:"Roles,omitempty"`
	Directory      *SetupDirectory  `json:"Directory,omitempty"`
	Workflows      []SetupWorkflow  `json:"WorkflowDefinitions,omitempty"`
}

// SetupWorkflow is an enrollment workflow definition, created or updated by
// its key and published at start (docs/workflow.md). Exactly one of
// EnrollmentPattern (a pattern name) or Template (a template short name)
// names the key.
type SetupWorkflow struct {
	DisplayName       string
	Description       string
	EnrollmentPattern string
	Template          string
	Enabled           *bool // default true
	Steps             []SetupWorkflowStep
}

// SetupWorkflowStep is one step; ApproverRoles name, by role name, who may
// approve a RequireApproval step.
type SetupWorkflowStep struct {
	ExtensionName           string
	UniqueName              string
	DisplayName             string
	Enabled                 *bool // default true
	ConfigurationParameters map[string]any
	ApproverRoles           []string
}

// SetupMetadata is a metadata field.
type SetupMetadata = policy.MetadataField

// SetupCA adds an issuing CA signed by the built-in root (for example a
// standalone CA).
type SetupCA struct {
	LogicalName            string
	Standalone             bool
	StandaloneValidityDays int
	StandaloneEKUs         []string
	KeyRetention           policy.KeyRetention
	KeyRetentionDays       int
}

// SetupTemplate is a template; CertificateAuthorities name CAs by logical name.
type SetupTemplate struct {
	policy.Template
	CertificateAuthorities []string
}

// SetupPattern is an enrollment pattern; Template, CAs and the default
// owner role are named, not numbered.
type SetupPattern struct {
	policy.Pattern
	Template               string
	CertificateAuthorities []string
	DefaultOwnerRole       string
}

// SetupIdentity is a local identity.
type SetupIdentity struct {
	AccountName string
	PasswordEnv string // environment variable holding the password
}

// SetupRole is a security role.
type SetupRole struct {
	Name        string
	Description string
	Permissions []string
	Identities  []string
}

// SetupDirectory configures the LDAP directory for PopulateMissingValuesFromAD.
type SetupDirectory struct {
	URL             string
	BindDN          string
	BindPasswordEnv string
	BaseDN          string
	UserFilter      string
	HostFilter      string
	StartTLS        bool
	CACertFile      string
}

// maxSetupFile caps the setup file; it is configuration, not data.
const maxSetupFile = 4 << 20

// LoadSetup reads and strictly decodes a setup file: unknown fields are
// errors, so a typo does not silently configure nothing.
func LoadSetup(path string) (*Setup, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("setup file: %w", err)
	}
	if len(b) > maxSetupFile {
		return nil, fmt.Errorf("setup file %s is larger than %d bytes", path, maxSetupFile)
	}
	return ParseSetup(b)
}

// ParseSetup decodes a setup document.
func ParseSetup(b []byte) (*Setup, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Setup
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("setup file: %w", err)
	}
	return &s, nil
}
