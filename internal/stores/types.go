package stores

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/certdock/certdock/internal/errs"
)

// PasswordOptions says whether a store type takes entry and store passwords.
type PasswordOptions struct {
	EntrySupported bool `json:"EntrySupported"`
	StoreRequired  bool `json:"StoreRequired"`
	Style          int  `json:"Style"` // 0 Default, 1 Custom
}

// SupportedOperations lists what a store type's agent can do.
type SupportedOperations struct {
	Add        bool `json:"Add"`
	Create     bool `json:"Create"`
	Discovery  bool `json:"Discovery"`
	Enrollment bool `json:"Enrollment"`
	Remove     bool `json:"Remove"`
}

// Property is a custom store property of a store type. Type: 0 String,
// 1 Bool, 2 MultipleChoice, 3 Secret.
type Property struct {
	Name         string `json:"Name"`
	DisplayName  string `json:"DisplayName"`
	Type         int    `json:"Type"`
	DependsOn    string `json:"DependsOn"`
	DefaultValue string `json:"DefaultValue"`
	Required     bool   `json:"Required"`
}

// EntryParameter is a per-entry parameter of a store type. RequiredWhen is
// the usage flags bitmask (1 HasPrivateKey, 2 OnAdd, 4 OnRemove, 8 OnReenrollment).
type EntryParameter struct {
	Name         string `json:"Name"`
	DisplayName  string `json:"DisplayName"`
	Type         int    `json:"Type"`
	RequiredWhen int    `json:"RequiredWhen"`
	DependsOn    string `json:"DependsOn"`
	DefaultValue string `json:"DefaultValue"`
	Options      string `json:"Options"`
}

// StoreType is a certificate store type.
type StoreType struct {
	ID                  int                 `json:"-"`
	Name                string              `json:"-"`
	ShortName           string              `json:"-"`
	Builtin             bool                `json:"-"`
	Capability          string              `json:"Capability"`
	LocalStore          bool                `json:"LocalStore"`
	SupportedOperations SupportedOperations `json:"SupportedOperations"`
	Properties          []Property          `json:"Properties"`
	EntryParameters     []EntryParameter    `json:"EntryParameters"`
	PasswordOptions     PasswordOptions     `json:"PasswordOptions"`
	StorePathType       string              `json:"StorePathType"`
	StorePathValue      string              `json:"StorePathValue"`
	PrivateKeyAllowed   int                 `json:"PrivateKeyAllowed"` // 0 Forbidden, 1 Optional, 2 Required
	CertificateFormat   int                 `json:"CertificateFormat"` // 1 PFX, 2 PEM
	JobProperties       []string            `json:"JobProperties"`
	ServerRequired      bool                `json:"ServerRequired"`
	PowerShell          bool                `json:"PowerShell"`
	BlueprintAllowed    bool                `json:"BlueprintAllowed"`
	CustomAliasAllowed  int                 `json:"CustomAliasAllowed"` // 0 Forbidden, 1 Optional, 2 Required
	ServerRegistration  int                 `json:"ServerRegistration"`
	InventoryEndpoint   string              `json:"InventoryEndpoint"`
	InventoryJobType    string              `json:"InventoryJobType"`
	ManagementJobType   string              `json:"ManagementJobType"`
	DiscoveryJobType    string              `json:"DiscoveryJobType"`
	EnrollmentJobType   string              `json:"EnrollmentJobType"`
}

// Doc encodes the type's definition for storage (everything but the columns).
func (t StoreType) Doc() string {
	b, _ := json.Marshal(t)
	return string(b)
}

// Job type GUIDs of the built-in store types (the agent protocol's JobTypeId).
const (
	JobPEMInventory     = "a809ce1f-1eea-4738-a38e-15708c89c981"
	JobPEMManagement    = "1d411b36-ae72-433f-9f3f-8593e836a1af"
	JobPKCS12Inventory  = "d06de656-3620-4988-8020-84755c4e4fe9"
	JobPKCS12Management = "17207de3-6e17-4ab3-91d5-51f7fc9154d2"
	JobJKSInventory     = "ec72f1d7-1045-42fd-84cd-c49233716304"
	JobJKSManagement    = "622d80d9-7ab9-4243-9531-211d360489a2"
)

// Builtin returns the definition of a built-in store type, or false.
func Builtin(id int) (StoreType, bool) {
	base := StoreType{
		Builtin: true, LocalStore: true,
		SupportedOperations: SupportedOperations{Add: true, Create: true, Remove: true},
		EntryParameters:     []EntryParameter{},
		StorePathType:       "", PrivateKeyAllowed: 1, CertificateFormat: 1, JobProperties: []string{},
		CustomAliasAllowed: 1, InventoryEndpoint: "/AnyInventory/Update",
	}
	switch id {
	case TypePEM:
		base.ID, base.Name, base.ShortName, base.Capability = TypePEM, "PEM file", "PEM", "PEM"
		base.CertificateFormat = 2
		base.PasswordOptions = PasswordOptions{EntrySupported: false, StoreRequired: false}
		base.Properties = []Property{
			{Name: "PrivateKeyPath", DisplayName: "Private key file", Type: 0},
			{Name: "ChainPath", DisplayName: "Chain file", Type: 0},
		}
		base.InventoryJobType, base.ManagementJobType = JobPEMInventory, JobPEMManagement
	case TypePKCS12:
		base.ID, base.Name, base.ShortName, base.Capability = TypePKCS12, "PKCS#12 file", "PKCS12", "PKCS12"
		base.PasswordOptions = PasswordOptions{EntrySupported: false, StoreRequired: true}
		base.Properties = []Property{}
		base.InventoryJobType, base.ManagementJobType = JobPKCS12Inventory, JobPKCS12Management
	case TypeJKS:
		base.ID, base.Name, base.ShortName, base.Capability = TypeJKS, "Java keystore", "JKS", "JKS"
		base.PasswordOptions = PasswordOptions{EntrySupported: true, StoreRequired: true}
		base.Properties = []Property{
			{Name: "KeystoreType", DisplayName: "Keystore type", Type: 2, DefaultValue: "JKS"},
		}
		base.InventoryJobType, base.ManagementJobType = JobJKSInventory, JobJKSManagement
	default:
		return StoreType{}, false
	}
	return base, true
}

// BuiltinIDs lists the built-in store type ids.
func BuiltinIDs() []int { return []int{TypePEM, TypePKCS12, TypeJKS} }

var shortNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,49}$`)

// validateType checks a user-defined store type.
func validateType(t *StoreType) error {
	t.Name = strings.TrimSpace(t.Name)
	t.ShortName = strings.TrimSpace(t.ShortName)
	if t.Name == "" {
		return errs.Field("Name", "is required")
	}
	if len(t.Name) > 200 {
		return errs.Field("Name", "must be at most 200 characters")
	}
	if !shortNameRE.MatchString(t.ShortName) {
		return errs.Field("ShortName", "%q must start with a letter and hold 1 to 50 letters, digits, '_', '.' or '-'", t.ShortName)
	}
	if t.Capability == "" {
		t.Capability = t.ShortName
	}
	if t.PrivateKeyAllowed < 0 || t.PrivateKeyAllowed > 2 {
		return errs.Field("PrivateKeyAllowed", "%d is not 0 (Forbidden), 1 (Optional) or 2 (Required)", t.PrivateKeyAllowed)
	}
	if t.CustomAliasAllowed < 0 || t.CustomAliasAllowed > 2 {
		return errs.Field("CustomAliasAllowed", "%d is not 0 (Forbidden), 1 (Optional) or 2 (Required)", t.CustomAliasAllowed)
	}
	if t.CertificateFormat == 0 {
		t.CertificateFormat = 1
	}
	if t.CertificateFormat != 1 && t.CertificateFormat != 2 {
		return errs.Field("CertificateFormat", "%d is not 1 (PFX) or 2 (PEM)", t.CertificateFormat)
	}
	seen := map[string]bool{}
	for i, p := range t.Properties {
		f := fmt.Sprintf("Properties[%d].Name", i)
		if strings.TrimSpace(p.Name) == "" {
			return errs.Field(f, "is required")
		}
		if seen[strings.ToLower(p.Name)] {
			return errs.Field(f, "%q is defined twice", p.Name)
		}
		seen[strings.ToLower(p.Name)] = true
		if p.Type < 0 || p.Type > 3 {
			return errs.Field(fmt.Sprintf("Properties[%d].Type", i), "%d is not 0 (String), 1 (Bool), 2 (MultipleChoice) or 3 (Secret)", p.Type)
		}
	}
	for i, p := range t.EntryParameters {
		if strings.TrimSpace(p.Name) == "" {
			return errs.Field(fmt.Sprintf("EntryParameters[%d].Name", i), "is required")
		}
	}
	if t.Properties == nil {
		t.Properties = []Property{}
	}
	if t.EntryParameters == nil {
		t.EntryParameters = []EntryParameter{}
	}
	if t.JobProperties == nil {
		t.JobProperties = []string{}
	}
	return nil
}

// checkProperties validates a store's Properties JSON text against its type
// and returns it normalised to {"name":"value",...}. Values may be given flat
// ({"k":"v"}) or as the update form ({"k":{"value":"v"}}).
func checkProperties(t StoreType, text string) (string, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		text = "{}"
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return "", errs.Field("Properties", "must be a JSON object in a string: %v", err)
	}
	defs := map[string]Property{}
	for _, p := range t.Properties {
		defs[strings.ToLower(p.Name)] = p
	}
	out := map[string]string{}
	for k, v := range raw {
		def, ok := defs[strings.ToLower(k)]
		if !ok {
			return "", errs.Field("Properties", "%q is not a property of store type %s", k, t.ShortName)
		}
		val, err := propertyValue(v)
		if err != nil {
			return "", errs.Field("Properties", "%s: %v", def.Name, err)
		}
		switch def.Type {
		case 1:
			if val != "" && !strings.EqualFold(val, "true") && !strings.EqualFold(val, "false") {
				return "", errs.Field("Properties", "%s: %q is not true or false", def.Name, val)
			}
		case 2:
			if def.Name == "KeystoreType" && t.Builtin && val != "" && val != "JKS" && val != "PKCS12" {
				return "", errs.Field("Properties", "KeystoreType: %q is not JKS or PKCS12", val)
			}
		}
		if len(val) > 4096 {
			return "", errs.Field("Properties", "%s: longer than 4096 characters", def.Name)
		}
		out[def.Name] = val
	}
	for _, p := range t.Properties {
		if p.Required && out[p.Name] == "" {
			if p.DefaultValue != "" {
				out[p.Name] = p.DefaultValue
				continue
			}
			return "", errs.Field("Properties", "%s is required by store type %s", p.Name, t.ShortName)
		}
	}
	b, _ := json.Marshal(out)
	return string(b), nil
}

// propertyValue reads a property given as a JSON scalar or {"value": scalar}.
func propertyValue(v json.RawMessage) (string, error) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(v, &obj) == nil {
		for k, inner := range obj {
			if strings.EqualFold(k, "value") {
				return propertyValue(inner)
			}
		}
		return "", fmt.Errorf("an object value needs a \"value\" member")
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, nil
	}
	var b bool
	if json.Unmarshal(v, &b) == nil {
		return fmt.Sprint(b), nil
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String(), nil
	}
	if string(v) == "null" {
		return "", nil
	}
	return "", fmt.Errorf("must be a string, number or boolean")
}

// PropertyMap decodes a store's normalised Properties text.
func PropertyMap(text string) map[string]string {
	m := map[string]string{}
	_ = json.Unmarshal([]byte(text), &m)
	return m
}
