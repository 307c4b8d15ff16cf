package policy

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/certdock/certdock/internal/errs"
)

// Key levels named in refusals.
const (
	LevelSystem   = "the system-wide enrollment policy"
	LevelPattern  = "the enrollment pattern policy"
	LevelTemplate = "the template's supported algorithms"
)

// KeyRequest is a resolved key choice: Algorithm is "RSA", "ECC" or
// "Ed25519"; Bits the RSA size; Curve the ECC curve OID.
type KeyRequest struct {
	Algorithm string
	Bits      int
	Curve     string
}

func (k KeyRequest) String() string {
	switch k.Algorithm {
	case "RSA":
		return fmt.Sprintf("RSA %d", k.Bits)
	case "ECC":
		return "ECC " + CurveName(k.Curve)
	}
	return k.Algorithm
}

// CurveName is the display name of a curve OID.
func CurveName(oid string) string {
	switch oid {
	case OIDP256:
		return "P-256"
	case OIDP384:
		return "P-384"
	case OIDP521:
		return "P-521"
	case OIDEd25519:
		return "Ed25519"
	}
	return oid
}

func allows(k KeyInfo, req KeyRequest) (bool, string) {
	switch req.Algorithm {
	case "RSA":
		if k.RSA == nil {
			return false, "KeyType"
		}
		if len(k.RSA.BitLengths) > 0 && !slices.Contains(k.RSA.BitLengths, req.Bits) {
			return false, "KeyLength"
		}
	case "ECC":
		if k.ECDSA == nil {
			return false, "KeyType"
		}
		if len(k.ECDSA.Curves) > 0 {
			ok := false
			for _, c := range k.ECDSA.Curves {
				if oid, _ := CurveOID(c); oid == req.Curve {
					ok = true
				}
			}
			if !ok {
				return false, "Curve"
			}
		}
	case "Ed25519":
		if k.Ed25519 == nil {
			return false, "KeyType"
		}
	default:
		return false, "KeyType"
	}
	return true, ""
}

// CheckKey checks a key choice against the three levels, in the order the
// vendor documents: system-wide policy, pattern policy, template. The error
// names the field and the level that refused.
func CheckKey(s Settings, p *Pattern, t *Template, req KeyRequest) error {
	levels := []struct {
		name string
		info *KeyInfo
	}{{LevelSystem, &s.KeyInfo}}
	if p != nil && p.KeyInfo != nil {
		levels = append(levels, struct {
			name string
			info *KeyInfo
		}{LevelPattern, p.KeyInfo})
	}
	if t != nil {
		levels = append(levels, struct {
			name string
			info *KeyInfo
		}{LevelTemplate, &t.KeyInfo})
	}
	for _, l := range levels {
		if ok, field := allows(*l.info, req); !ok {
			return errs.Policy(errs.CodeKeyTypePolicy, field, "key %s is disallowed by %s (allowed: %s)", req, l.name, describe(*l.info))
		}
	}
	return nil
}

func describe(k KeyInfo) string {
	var parts []string
	if k.RSA != nil {
		if len(k.RSA.BitLengths) == 0 {
			parts = append(parts, "RSA")
		}
		for _, b := range k.RSA.BitLengths {
			parts = append(parts, fmt.Sprintf("RSA %d", b))
		}
	}
	if k.ECDSA != nil {
		if len(k.ECDSA.Curves) == 0 {
			parts = append(parts, "ECC")
		}
		for _, c := range k.ECDSA.Curves {
			oid, _ := CurveOID(c)
			parts = append(parts, "ECC "+CurveName(oid))
		}
	}
	if k.Ed25519 != nil {
		parts = append(parts, "Ed25519")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// ResolveMetadata checks the request's metadata against the field
// definitions and the pattern's overrides, applies defaults, and returns the
// values to store. Unknown field names, wrong types, regex and option
// mismatches, and missing required fields are errors naming the field.
func ResolveMetadata(fields []MetadataField, rules []MetadataRule, given map[string]string) (map[string]string, error) {
	byName := map[string]MetadataField{}
	for _, f := range fields {
		for _, r := range rules {
			if r.MetadataID == f.ID {
				if r.DefaultValue != "" {
					f.DefaultValue = r.DefaultValue
				}
				if r.Validation != "" {
					f.Validation = r.Validation
				}
				if r.Message != "" {
					f.Message = r.Message
				}
				f.Enrollment = r.Enrollment
			}
		}
		byName[strings.ToLower(f.Name)] = f
	}
	out := map[string]string{}
	names := make([]string, 0, len(given))
	for k := range given {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := given[k]
		f, ok := byName[strings.ToLower(k)]
		if !ok {
			return nil, errs.Field("Metadata."+k, "there is no metadata field named %q", k)
		}
		if v == "" {
			continue
		}
		if err := CheckMetadataValue(f, "Metadata."+f.Name, v); err != nil {
			return nil, err
		}
		out[f.Name] = v
	}
	for _, f := range fields {
		f = byName[strings.ToLower(f.Name)]
		if _, ok := out[f.Name]; ok {
			continue
		}
		if f.DefaultValue != "" {
			out[f.Name] = f.DefaultValue
			continue
		}
		if f.Enrollment == MetadataRequired {
			return nil, errs.Field("Metadata."+f.Name, "is required")
		}
	}
	return out, nil
}

// CheckEnrollmentFields checks AdditionalEnrollmentFields against the
// pattern's custom enrollment fields and returns them under their
// configured names.
func CheckEnrollmentFields(defs []EnrollmentField, given map[string]string) (map[string]string, error) {
	byName := map[string]EnrollmentField{}
	for _, d := range defs {
		byName[strings.ToLower(d.Name)] = d
	}
	out := map[string]string{}
	for k, v := range given {
		d, ok := byName[strings.ToLower(k)]
		if !ok {
			return nil, errs.Field("AdditionalEnrollmentFields."+k, "the enrollment pattern has no custom enrollment field named %q", k)
		}
		if len(v) > 4000 {
			return nil, errs.Field("AdditionalEnrollmentFields."+d.Name, "is longer than 4000 characters")
		}
		if d.DataType == FieldMultipleChoice && v != "" {
			ok := false
			for _, o := range d.Options {
				if o == v {
					ok = true
				}
			}
			if !ok {
				return nil, errs.Field("AdditionalEnrollmentFields."+d.Name, "%q is not one of the options %q", v, d.Options)
			}
		}
		if v != "" {
			out[d.Name] = v
		}
	}
	for _, d := range defs {
		if _, ok := out[d.Name]; !ok && d.Required {
			return nil, errs.Field("AdditionalEnrollmentFields."+d.Name, "is required by the enrollment pattern")
		}
	}
	return out, nil
}
