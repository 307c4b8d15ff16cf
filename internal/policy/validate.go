package policy

import (
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/keygen"
)

// maxRegex caps configured regular expressions; Go's RE2 engine is linear in
// input, but a huge pattern still costs memory on every compile.
const maxRegex = 1024

// CompileRegex compiles a configured regular expression, anchored so it must
// match the whole value (Keyfactor's regexes are written that way).
func CompileRegex(field, re string, caseSensitive bool) (*regexp.Regexp, error) {
	if len(re) > maxRegex {
		return nil, errs.Field(field, "the regular expression is longer than %d characters", maxRegex)
	}
	src := "^(?:" + re + ")$"
	if !caseSensitive {
		src = "(?i)" + src
	}
	r, err := regexp.Compile(src)
	if err != nil {
		return nil, errs.Field(field, "%q is not a valid regular expression: %v", re, err)
	}
	return r, nil
}

// SubjectParts are the subject parts a regex or default may name.
var SubjectParts = []string{"CN", "O", "OU", "L", "ST", "C", "E"}

func validSubjectPart(p string) bool {
	for _, s := range SubjectParts {
		if strings.EqualFold(s, p) {
			return true
		}
	}
	switch strings.ToUpper(p) {
	case "DNS", "IP", "IP4", "IP6", "URI", "MAIL", "RFC822", "UPN":
		return true
	}
	return false
}

// ValidateKeyInfo checks a KeyInfo from configuration.
func ValidateKeyInfo(field string, k KeyInfo) error {
	if k.RSA != nil {
		for _, b := range k.RSA.BitLengths {
			switch b {
			case 2048, 3072, 4096, 8192:
			default:
				return errs.Field(field+".RSA.bit_lengths", "%d is not a supported RSA key size (2048, 3072, 4096, 8192)", b)
			}
		}
	}
	if k.ECDSA != nil {
		for _, c := range k.ECDSA.Curves {
			if _, ok := CurveOID(c); !ok {
				return errs.Field(field+".ECDSA.curves", "%q is not a supported curve (P-256, P-384, P-521 or their OIDs)", c)
			}
		}
	}
	if k.Ed448 != nil {
		return errs.Field(field+".Ed448", "Ed448 is not supported by certdock")
	}
	return nil
}

// CurveOID normalises an ECC curve name or OID to its OID, using keygen's
// curve table so that policy and key generation accept the same spellings.
func CurveOID(s string) (string, bool) {
	spec, err := keygen.ParseSpec("ECC", 0, s)
	if err != nil || spec.Algorithm != keygen.ECDSA || strings.TrimSpace(s) == "" {
		return "", false
	}
	return spec.CurveOID(), true
}

// ValidateTemplate checks a template before it is stored.
func ValidateTemplate(t Template) error {
	if strings.TrimSpace(t.CommonName) == "" {
		return errs.Field("CommonName", "is required")
	}
	if t.ValidityDays < 1 || t.ValidityDays > 3650 {
		return errs.Field("ValidityDays", "must be between 1 and 3650, got %d", t.ValidityDays)
	}
	if t.KeyRetention < RetentionNone || t.KeyRetention > RetentionFromIssuance {
		return errs.Field("KeyRetention", "must be 0 (None), 1 (Indefinite), 2 (AfterExpiration) or 3 (FromIssuance), got %d", t.KeyRetention)
	}
	if (t.KeyRetention == RetentionAfterExpiration || t.KeyRetention == RetentionFromIssuance) && t.KeyRetentionDays < 1 {
		return errs.Field("KeyRetentionDays", "must be at least 1 for key retention policy %d", t.KeyRetention)
	}
	for _, o := range t.ExtendedKeyUsage {
		if !validOID(o) {
			return errs.Field("ExtendedKeyUsages", "%q is not an OID", o)
		}
	}
	return ValidateKeyInfo("KeyInfo", t.KeyInfo)
}

func validOID(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return false
		}
	}
	return true
}

// ValidatePattern checks a pattern before it is stored.
func ValidatePattern(p Pattern) error {
	if strings.TrimSpace(p.Name) == "" {
		return errs.Field("Name", "is required")
	}
	if len(p.Name) > 200 {
		return errs.Field("Name", "must be at most 200 characters")
	}
	if p.TemplateID <= 0 {
		return errs.Field("Template", "is required")
	}
	if p.RestrictCAs && len(p.CAIDs) == 0 {
		return errs.Field("CertificateAuthorities", "must list at least one CA when RestrictCAs is true")
	}
	if p.KeyInfo != nil {
		if err := ValidateKeyInfo("Policies.KeyInfo", *p.KeyInfo); err != nil {
			return err
		}
	}
	for i, r := range p.Regexes {
		f := fmt.Sprintf("Regexes[%d]", i)
		if !validSubjectPart(r.SubjectPart) {
			return errs.Field(f+".SubjectPart", "%q is not a subject part (%s, or a SAN type)", r.SubjectPart, strings.Join(SubjectParts, ", "))
		}
		if _, err := CompileRegex(f+".Regex", r.Regex, r.CaseSensitive); err != nil {
			return err
		}
	}
	for i, d := range p.Defaults {
		if !validSubjectPart(d.SubjectPart) {
			return errs.Field(fmt.Sprintf("Defaults[%d].SubjectPart", i), "%q is not a subject part", d.SubjectPart)
		}
	}
	seen := map[string]bool{}
	for i, f := range p.EnrollmentFields {
		name := fmt.Sprintf("EnrollmentFields[%d]", i)
		if strings.TrimSpace(f.Name) == "" {
			return errs.Field(name+".Name", "is required")
		}
		if seen[strings.ToLower(f.Name)] {
			return errs.Field(name+".Name", "%q is listed twice", f.Name)
		}
		seen[strings.ToLower(f.Name)] = true
		switch f.DataType {
		case FieldString:
		case FieldMultipleChoice:
			if len(f.Options) == 0 {
				return errs.Field(name+".Options", "a multiple choice field needs at least one option")
			}
		default:
			return errs.Field(name+".DataType", "must be 1 (String) or 2 (MultipleChoice), got %d", f.DataType)
		}
	}
	if p.OwnerRolePolicy < OwnerOptional || p.OwnerRolePolicy > OwnerProhibited {
		return errs.Field("Policies.CertificateOwnerRole", "must be 0 (Optional), 1 (Required) or 2 (Prohibited), got %d", p.OwnerRolePolicy)
	}
	for i, m := range p.MetadataRules {
		if m.Validation != "" {
			if _, err := CompileRegex(fmt.Sprintf("MetadataFields[%d].Validation", i), m.Validation, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// ValidateSettings checks system-wide settings.
func ValidateSettings(s Settings) error {
	if s.PasswordLength < 1 || s.PasswordLength > 128 {
		return errs.Field("PasswordLength", "must be between 1 and 128, got %d", s.PasswordLength)
	}
	if _, err := CompileRegex("CommonNameRegularExpression", s.CommonNameRegex, true); err != nil {
		return err
	}
	for i, r := range s.Regexes {
		if _, err := CompileRegex(fmt.Sprintf("Regexes[%d].Regex", i), r.Regex, r.CaseSensitive); err != nil {
			return err
		}
	}
	return ValidateKeyInfo("KeyInfo", s.KeyInfo)
}

// ValidateMetadataField checks a metadata field definition.
func ValidateMetadataField(f MetadataField) error {
	if strings.TrimSpace(f.Name) == "" {
		return errs.Field("Name", "is required")
	}
	if len(f.Name) > 100 || strings.ContainsAny(f.Name, " \t\r\n\"") {
		return errs.Field("Name", "must be at most 100 characters with no spaces or quotes")
	}
	if f.DataType < MetaString || f.DataType > MetaEmail {
		return errs.Field("DataType", "must be 1 (String), 2 (Integer), 3 (Date), 4 (Boolean), 5 (MultipleChoice), 6 (BigText) or 7 (Email), got %d", f.DataType)
	}
	if f.Enrollment < MetadataOptional || f.Enrollment > MetadataHidden {
		return errs.Field("Enrollment", "must be 0 (Optional), 1 (Required) or 2 (Hidden), got %d", f.Enrollment)
	}
	if f.DataType == MetaMultipleChoice && len(f.Options) == 0 {
		return errs.Field("Options", "a MultipleChoice field needs at least one option")
	}
	if f.Validation != "" {
		if f.DataType != MetaString && f.DataType != MetaBigText {
			return errs.Field("Validation", "a validation expression applies only to String and BigText fields")
		}
		if _, err := CompileRegex("Validation", f.Validation, f.CaseSensitive); err != nil {
			return err
		}
	}
	if f.DefaultValue != "" {
		if err := CheckMetadataValue(f, "DefaultValue", f.DefaultValue); err != nil {
			return err
		}
	}
	return nil
}

// CheckMetadataValue checks one value against a field's type, regex and
// options. fieldPath is the name used in the error ("Metadata.Team").
func CheckMetadataValue(f MetadataField, fieldPath, v string) error {
	if len(v) > 4000 {
		return errs.Field(fieldPath, "is longer than 4000 characters")
	}
	switch f.DataType {
	case MetaString:
		if strings.ContainsAny(v, "\r\n") {
			return errs.Field(fieldPath, "a String field cannot contain line breaks (use a BigText field)")
		}
	case MetaInteger:
		if _, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
			return errs.Field(fieldPath, "%q is not an integer", v)
		}
	case MetaDate:
		if _, ok := ParseDate(v); !ok {
			return errs.Field(fieldPath, "%q is not a date (YYYY-MM-DD or RFC 3339)", v)
		}
	case MetaBoolean:
		if _, err := strconv.ParseBool(strings.TrimSpace(v)); err != nil {
			return errs.Field(fieldPath, "%q is not a boolean (true or false)", v)
		}
	case MetaMultipleChoice:
		ok := false
		for _, o := range f.Options {
			if o == v || (!f.CaseSensitive && strings.EqualFold(o, v)) {
				ok = true
			}
		}
		if !ok {
			return errs.Field(fieldPath, "%q is not one of the options %q", v, f.Options)
		}
	case MetaEmail:
		a, err := mail.ParseAddress(v)
		if err != nil || a.Address != v {
			return errs.Field(fieldPath, "%q is not an email address", v)
		}
	}
	if f.Validation != "" && (f.DataType == MetaString || f.DataType == MetaBigText) {
		re, err := CompileRegex(fieldPath, f.Validation, f.CaseSensitive)
		if err != nil {
			return err
		}
		if !re.MatchString(v) {
			msg := f.Message
			if msg == "" {
				msg = "does not match " + f.Validation
			}
			return errs.Field(fieldPath, "%q: %s", v, msg)
		}
	}
	return nil
}

// ParseDate accepts the date forms metadata and queries use.
func ParseDate(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02", "1/2/2006", "01/02/2006"} {
		if t, err := time.Parse(l, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
