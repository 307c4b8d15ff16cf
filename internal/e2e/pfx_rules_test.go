package e2e

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Every rule of issue 3 through HTTP: one raw JSON request per row over
// HTTPS, each refusal checked for its status, its ErrorCode and a Message
// that starts with the field it is about.

const (
	codeField     = "0xA0010001"
	codeKeyPolicy = "0xA0110004"
	rulesPassword = "rules-password-123"
)

// rulesSetup configures what the rules need: a CN regex, a required custom
// friendly name, metadata fields of each kind, key policy at each level, a
// pattern with subject regexes and custom enrollment fields, one requiring
// an owner, a template without pattern and a standalone CA.
func rulesSetup() map[string]any {
	webCAs := []string{"IssuingCA1"}
	return map[string]any{
		"Settings": map[string]any{"PasswordLength": 14, "CommonNameRegex": "^[a-z0-9.-]+$", "RequireCustomFriendlyName": true,
			"AllowCSPs": false, "CSPs": []string{"Microsoft Enhanced RSA and AES Cryptographic Provider"}, "AllowWildcards": true,
			"KeyInfo": map[string]any{"RSA": map[string]any{"bit_lengths": []int{2048, 3072, 4096}},
				"ECDSA":   map[string]any{"curves": []string{"1.2.840.10045.3.1.7", "1.3.132.0.34", "1.3.132.0.35"}},
				"Ed25519": map[string]any{}}},
		"MetadataFields": []any{
			map[string]any{"Name": "Team", "DataType": 1, "Enrollment": 1, "Validation": "^[A-Z]{2,5}$", "Message": "two to five capital letters"},
			map[string]any{"Name": "Count", "DataType": 2},
			map[string]any{"Name": "Env", "DataType": 5, "Options": []string{"prod", "test"}},
		},
		"CertificateAuthorities": []any{map[string]any{"LogicalName": "StandaloneCA1", "Standalone": true, "StandaloneValidityDays": 30}},
		"Templates": []any{
			map[string]any{"CommonName": "SmallKeys", "ValidityDays": 30, "ExtendedKeyUsage": []string{"1.3.6.1.5.5.7.3.1"},
				"KeyInfo": map[string]any{"RSA": map[string]any{"bit_lengths": []int{2048, 3072}}}, "DefaultKeyType": "RSA", "DefaultKeySize": 2048,
				"AllowedEnrollmentTypes": 3, "CertificateAuthorities": webCAs},
			map[string]any{"CommonName": "NoPattern", "ValidityDays": 30, "ExtendedKeyUsage": []string{"1.3.6.1.5.5.7.3.1"},
				"KeyInfo": map[string]any{"ECDSA": map[string]any{}}, "AllowedEnrollmentTypes": 3, "CertificateAuthorities": webCAs},
		},
		"Roles": []any{map[string]any{"Name": "Owners", "Permissions": []string{"/portal/read/"}}},
		"EnrollmentPatterns": []any{
			map[string]any{"Name": "SmallKeys default", "Template": "SmallKeys", "TemplateDefault": true, "AllowedEnrollmentTypes": 3},
			map[string]any{"Name": "RSA2048Only", "Template": "WebServer", "AllowedEnrollmentTypes": 3,
				"KeyInfo": map[string]any{"RSA": map[string]any{"bit_lengths": []int{2048}}, "ECDSA": map[string]any{}}},
			map[string]any{"Name": "Strict", "Template": "WebServer", "AllowedEnrollmentTypes": 3,
				"Regexes": []any{map[string]any{"SubjectPart": "O", "Regex": "Example.*", "Error": "O must start with Example", "CaseSensitive": true}},
				"EnrollmentFields": []any{
					map[string]any{"Name": "Ticket", "DataType": 1, "Required": true},
					map[string]any{"Name": "Tier", "DataType": 2, "Options": []string{"gold", "silver"}},
				}},
			map[string]any{"Name": "OwnerRequired", "Template": "WebServer", "AllowedEnrollmentTypes": 3, "OwnerRolePolicy": 1},
		},
	}
}

type ruleRow struct {
	name    string
	version string // x-keyfactor-api-version; "" sends none
	format  string // x-certificateformat; "" means PEM, "-" sends none
	mod     func(m map[string]any)
	before  func(t *testing.T) // settings changes, undone by after
	after   func(t *testing.T)
	status  int
	code    string // ErrorCode of a refusal
	field   string // the Message starts with field + ":"
	has     string // and contains this
	ok      func(t *testing.T, leaf *x509.Certificate, body map[string]any)
}

func TestPFXRules(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { runPFXRules(t, startSetup(t, "", writeSetup(t, rulesSetup()))) })
	t.Run("postgres", func(t *testing.T) {
		runPFXRules(t, startSetup(t, postgresDSN(t), writeSetup(t, rulesSetup())))
	})
}

func runPFXRules(t *testing.T, in *instance) {
	code, b := in.call(t, "GET", "/EnrollmentPatterns", "admin", adminPassword, "")
	if code != http.StatusOK {
		t.Fatalf("GET EnrollmentPatterns: %d %s", code, b)
	}
	var pats []struct {
		Id   int64
		Name string
	}
	if err := json.Unmarshal(b, &pats); err != nil {
		t.Fatal(err)
	}
	patID := map[string]int64{}
	for _, p := range pats {
		patID[p.Name] = p.Id
	}
	for _, n := range []string{"RSA2048Only", "Strict", "OwnerRequired", "SmallKeys default"} {
		if patID[n] == 0 {
			t.Fatalf("pattern %q missing: %s", n, b)
		}
	}
	setting := func(name, v string) func(t *testing.T) {
		return func(t *testing.T) { setAppSetting(t, in, name, v) }
	}
	set := func(kv ...any) func(m map[string]any) {
		return func(m map[string]any) {
			for i := 0; i < len(kv); i += 2 {
				if kv[i+1] == nil {
					delete(m, kv[i].(string))
				} else {
					m[kv[i].(string)] = kv[i+1]
				}
			}
		}
	}
	strict := func(kv ...any) func(m map[string]any) {
		return func(m map[string]any) {
			delete(m, "Template")
			m["EnrollmentPatternId"] = patID["Strict"]
			m["Subject"] = `CN=strict.example.com,O="Example, Inc."`
			m["AdditionalEnrollmentFields"] = map[string]any{"Ticket": "CHG-1"}
			set(kv...)(m)
		}
	}
	curveIs := func(name string) func(t *testing.T, leaf *x509.Certificate, _ map[string]any) {
		return func(t *testing.T, leaf *x509.Certificate, _ map[string]any) {
			k, ok := leaf.PublicKey.(*ecdsa.PublicKey)
			if !ok || k.Curve.Params().Name != name {
				t.Errorf("key %T, want ECDSA %s", leaf.PublicKey, name)
			}
		}
	}
	past := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	// stored reads the certificate back: a 200 means it is committed with
	// its metadata and owner.
	stored := func(t *testing.T, body map[string]any) map[string]any {
		t.Helper()
		id := body["CertificateInformation"].(map[string]any)["KeyfactorId"]
		code, b := in.call(t, "GET", "/Certificates/"+strconv.FormatFloat(id.(float64), 'f', 0, 64)+"?includeMetadata=true", "admin", adminPassword, "")
		if code != http.StatusOK {
			t.Fatalf("GET Certificates/%v: %d %s", id, code, b)
		}
		var c map[string]any
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		return c
	}

	rows := []ruleRow{
		// Template / EnrollmentPatternId / CertificateAuthority.
		{name: "NoTemplateNoPattern", mod: set("Template", nil), status: 400, code: codeField, field: "Template", has: "EnrollmentPatternId"},
		{name: "PatternAndOtherTemplate", mod: set("Template", "ClientAuth", "EnrollmentPatternId", patID["RSA2048Only"]), status: 400, code: codeField, field: "Template", has: "does not match"},
		{name: "PatternAndSameTemplate", mod: set("Template", "webserver", "EnrollmentPatternId", patID["RSA2048Only"]), status: 200},
		{name: "TemplateWithoutPattern", mod: set("Template", "NoPattern"), status: 400, code: codeField, field: "Template", has: "no enrollment pattern"},
		{name: "UnknownTemplate", mod: set("Template", "NoSuchTemplate"), status: 400, code: codeField, field: "Template", has: "does not exist"},
		{name: "UnknownPattern", mod: set("Template", nil, "EnrollmentPatternId", 999999), status: 400, code: codeField, field: "EnrollmentPatternId", has: "does not exist"},
		{name: "UnknownCA", mod: set("CertificateAuthority", "NoSuchCA"), status: 400, code: codeField, field: "CertificateAuthority", has: "does not exist"},
		{name: "CAWrongHost", mod: set("CertificateAuthority", `otherhost\IssuingCA1`), status: 400, code: codeField, field: "CertificateAuthority", has: "does not exist"},
		{name: "CAByLogicalName", mod: set("CertificateAuthority", "IssuingCA1"), status: 200},
		{name: "CAByHostAndName", mod: set("CertificateAuthority", `localhost\IssuingCA1`), status: 200},
		{name: "CANotOfferingTemplate", mod: set("CertificateAuthority", "StandaloneCA1"), status: 400, code: codeField, field: "CertificateAuthority", has: "does not offer"},
		{name: "StandaloneWithoutCA", mod: set("Template", nil, "Subject", "CN=standalone.example.com"), status: 400, code: codeField, field: "Template", has: "CertificateAuthority"},
		{name: "NonStandaloneCAWithoutTemplate", mod: set("Template", nil, "CertificateAuthority", "IssuingCA1"), status: 400, code: codeField, field: "Template", has: "not standalone"},
		{name: "StandaloneCA", mod: set("Template", nil, "CertificateAuthority", "StandaloneCA1"), status: 200,
			ok: func(t *testing.T, leaf *x509.Certificate, _ map[string]any) {
				if d := leaf.NotAfter.Sub(leaf.NotBefore); d > 31*24*time.Hour {
					t.Errorf("standalone validity %v, want the CA's 30 days", d)
				}
			}},
		// Key type, size and curve.
		{name: "KeyTypeEd448", mod: set("KeyType", "Ed448", "Curve", nil), status: 400, code: codeField, field: "KeyType", has: "Ed448"},
		{name: "KeyTypeUnknown", mod: set("KeyType", "DSA", "Curve", nil), status: 400, code: codeField, field: "KeyType", has: "DSA"},
		{name: "KeyLengthSystem", mod: set("KeyType", "RSA", "Curve", nil, "KeyLength", 8192), status: 400, code: codeKeyPolicy, field: "KeyLength", has: "system-wide enrollment policy"},
		{name: "KeyLengthPattern", mod: set("Template", nil, "EnrollmentPatternId", patID["RSA2048Only"], "KeyType", "RSA", "Curve", nil, "KeyLength", 3072), status: 400, code: codeKeyPolicy, field: "KeyLength", has: "enrollment pattern policy"},
		{name: "KeyLengthTemplate", mod: set("Template", "SmallKeys", "KeyType", "RSA", "Curve", nil, "KeyLength", "4096"), status: 400, code: codeKeyPolicy, field: "KeyLength", has: "template's supported algorithms"},
		{name: "KeyLengthNotRSASize", mod: set("KeyType", "RSA", "Curve", nil, "KeyLength", 1024), status: 400, code: codeField, field: "KeyLength"},
		{name: "KeyLengthNotANumber", mod: set("KeyType", "RSA", "Curve", nil, "KeyLength", "big"), status: 400, code: codeField, field: "KeyLength"},
		{name: "CurveUnknownName", mod: set("Curve", "P-192"), status: 400, code: codeField, field: "Curve", has: "P-192"},
		{name: "CurveUnknownOID", mod: set("Curve", "1.2.3.4"), status: 400, code: codeField, field: "Curve", has: "1.2.3.4"},
		{name: "ECCKeyLength256", mod: set("Curve", nil, "KeyLength", 256), status: 200, ok: curveIs("P-256")},
		{name: "ECCKeyLength384", mod: set("Curve", nil, "KeyLength", 384), status: 200, ok: curveIs("P-384")},
		{name: "ECCKeyLength521", mod: set("Curve", nil, "KeyLength", "521"), status: 200, ok: curveIs("P-521")},
		{name: "ECCKeyLengthOther", mod: set("Curve", nil, "KeyLength", 512), status: 400, code: codeField, field: "KeyLength"},
		// Subject.
		{name: "SubjectUnterminatedQuote", mod: set("Subject", `CN=a.example.com,O="Key Example, Inc.`), status: 400, code: codeField, field: "Subject", has: "unterminated quote"},
		{name: "SubjectUnquotedComma", mod: set("Subject", `CN=a.example.com,O=Key Example, Inc.`), status: 400, code: codeField, field: "Subject"},
		{name: "SubjectStrayQuote", mod: set("Subject", `CN=a.example.com,O=Key "Example"`), status: 400, code: codeField, field: "Subject", has: "quote"},
		{name: "SubjectBadEscape", mod: set("Subject", `CN=a.example.com,O=Key\Q`), status: 400, code: codeField, field: "Subject", has: "escape"},
		{name: "SubjectUnknownAttribute", mod: set("Subject", `CN=a.example.com,XYZ=1`), status: 400, code: codeField, field: "Subject"},
		{name: "SubjectCountryLength", mod: set("Subject", `CN=a.example.com,C=USA`), status: 400, code: codeField, field: "Subject"},
		{name: "SubjectQuotedOK", mod: set("Subject", `CN=quoted.example.com,O="Key Example, Inc.",OU=R\, D`), status: 200,
			ok: func(t *testing.T, leaf *x509.Certificate, _ map[string]any) {
				if len(leaf.Subject.Organization) != 1 || leaf.Subject.Organization[0] != "Key Example, Inc." ||
					len(leaf.Subject.OrganizationalUnit) != 1 || leaf.Subject.OrganizationalUnit[0] != "R, D" {
					t.Errorf("subject %s", leaf.Subject)
				}
			}},
		{name: "SpecExampleSubject", mod: set("Subject", `CN=websrvr14.keyexample.com,OU=IT,O="Key Example, Inc.",L=Independence,ST=OH,C=US`), status: 200,
			ok: func(t *testing.T, leaf *x509.Certificate, _ map[string]any) {
				s := leaf.Subject
				if s.CommonName != "websrvr14.keyexample.com" || strings.Join(s.OrganizationalUnit, "|") != "IT" || strings.Join(s.Organization, "|") != "Key Example, Inc." ||
					strings.Join(s.Locality, "|") != "Independence" || strings.Join(s.Province, "|") != "OH" || strings.Join(s.Country, "|") != "US" {
					t.Errorf("subject %s", s)
				}
			}},
		{name: "CNRegex", mod: set("Subject", "CN=Bad_Name.example.com"), status: 400, code: codeField, field: "Subject", has: "Common Name Regular Expression"},
		{name: "CNRegexNoCN", mod: set("Subject", "O=Example"), status: 400, code: codeField, field: "Subject", has: "Common Name Regular Expression"},
		{name: "PatternSubjectRegex", mod: strict("Subject", "CN=strict.example.com,O=Other Org"), status: 400, code: codeField, field: "Subject.O", has: "O must start with Example"},
		{name: "PatternSubjectRegexOK", mod: strict(), status: 200},
		// SANs, each kind.
		{name: "SANdns", mod: set("SANs", map[string]any{"dns": []string{"bad host!.example.com"}}), status: 400, code: codeField, field: "SANs.dns"},
		{name: "SANip4", mod: set("SANs", map[string]any{"ip4": []string{"300.1.2.3"}}), status: 400, code: codeField, field: "SANs.ip4"},
		{name: "SANip4GivenV6", mod: set("SANs", map[string]any{"ip4": []string{"2001:db8::1"}}), status: 400, code: codeField, field: "SANs.ip4"},
		{name: "SANip6", mod: set("SANs", map[string]any{"ip6": []string{"2001:db8::zz"}}), status: 400, code: codeField, field: "SANs.ip6"},
		{name: "SANip6GivenV4", mod: set("SANs", map[string]any{"ip6": []string{"192.0.2.1"}}), status: 400, code: codeField, field: "SANs.ip6"},
		{name: "SANuri", mod: set("SANs", map[string]any{"uri": []string{"not a uri"}}), status: 400, code: codeField, field: "SANs.uri"},
		{name: "SANmail", mod: set("SANs", map[string]any{"mail": []string{"not-an-address"}}), status: 400, code: codeField, field: "SANs.mail"},
		{name: "SANrfc822", mod: set("SANs", map[string]any{"RFC822": []string{"a@@b"}}), status: 400, code: codeField, field: "SANs.RFC822"},
		{name: "SANupn", mod: set("SANs", map[string]any{"upn": []string{"no-at-sign"}}), status: 400, code: codeField, field: "SANs.upn"},
		{name: "SANunknownKey", mod: set("SANs", map[string]any{"fax": []string{"123"}}), status: 400, code: codeField, field: "SANs", has: "fax"},
		{name: "SANempty", mod: set("SANs", map[string]any{"dns": []string{""}}), status: 400, code: codeField, field: "SANs.dns"},
		{name: "SANnotArray", mod: set("SANs", map[string]any{"dns": "a.example.com"}), status: 400, code: codeField, field: "SANs.dns"},
		{name: "SANsNotObject", mod: set("SANs", []string{"dns"}), status: 400, code: codeField, field: "SANs"},
		{name: "SANsMixedCaseOK", mod: set("SANs", map[string]any{"DNS": []string{"x.example.com"}, "Ip4": []string{"192.0.2.7"}, "UPN": []string{"u@corp.example.com"}, "Mail": []string{"m@example.com"}}), status: 200,
			ok: func(t *testing.T, leaf *x509.Certificate, _ map[string]any) {
				if len(leaf.DNSNames) != 1 || len(leaf.IPAddresses) != 1 || len(leaf.EmailAddresses) != 1 {
					t.Errorf("SANs dns %v ip %v mail %v", leaf.DNSNames, leaf.IPAddresses, leaf.EmailAddresses)
				}
			}},
		// Password, friendly name, CSP.
		{name: "PasswordShort", mod: set("Password", "short-pass"), status: 400, code: codeField, field: "Password", has: "14"},
		{name: "PasswordGenerated", mod: set("Password", nil), status: 200,
			ok: func(t *testing.T, _ *x509.Certificate, body map[string]any) {
				pw, _ := body["CertificateInformation"].(map[string]any)["Password"].(string)
				if len(pw) < 16 {
					t.Errorf("generated password %q shorter than 16", pw)
				}
			}},
		{name: "FriendlyNameRequired", mod: set("CustomFriendlyName", nil), status: 400, code: codeField, field: "CustomFriendlyName", has: "required"},
		{name: "CSPNotAllowed", mod: set("MicrosoftTargetCSP", "Microsoft Enhanced RSA and AES Cryptographic Provider"), status: 400, code: codeField, field: "MicrosoftTargetCSP", has: "Allow Cryptographic Service Providers"},
		{name: "CSPNotInList", mod: set("MicrosoftTargetCSP", "Contoso CSP"), before: setting("AllowCSPs", "true"), after: setting("AllowCSPs", "false"),
			status: 400, code: codeField, field: "MicrosoftTargetCSP", has: "not in the Cryptographic Service Providers list"},
		{name: "CSPInList", mod: set("MicrosoftTargetCSP", "Microsoft Enhanced RSA and AES Cryptographic Provider"), before: setting("AllowCSPs", "true"), after: setting("AllowCSPs", "false"), status: 200},
		// Metadata.
		{name: "MetadataRequired", mod: set("Metadata", map[string]any{}), status: 400, code: codeField, field: "Metadata.Team", has: "required"},
		{name: "MetadataRegex", mod: set("Metadata", map[string]any{"Team": "O"}), status: 400, code: codeField, field: "Metadata.Team", has: "two to five capital letters"},
		{name: "MetadataType", mod: set("Metadata", map[string]any{"Team": "OPS", "Count": "many"}), status: 400, code: codeField, field: "Metadata.Count", has: "integer"},
		{name: "MetadataOptions", mod: set("Metadata", map[string]any{"Team": "OPS", "Env": "dev"}), status: 400, code: codeField, field: "Metadata.Env", has: "options"},
		{name: "MetadataUnknown", mod: set("Metadata", map[string]any{"Team": "OPS", "Color": "red"}), status: 400, code: codeField, field: "Metadata.Color"},
		{name: "MetadataNotObject", mod: set("Metadata", "Team=OPS"), status: 400, code: codeField, field: "Metadata", has: "JSON object"},
		{name: "MetadataNotScalar", mod: set("Metadata", map[string]any{"Team": []string{"OPS"}}), status: 400, code: codeField, field: "Metadata.Team"},
		{name: "MetadataOK", mod: set("Metadata", map[string]any{"Team": "OPS", "Count": 3, "Env": "prod"}), status: 200,
			ok: func(t *testing.T, _ *x509.Certificate, body map[string]any) {
				md, _ := body["Metadata"].(map[string]any)
				if md["Team"] != "OPS" || md["Count"] != "3" || md["Env"] != "prod" {
					t.Errorf("Metadata echoed %v", md)
				}
				if md := stored(t, body)["Metadata"].(map[string]any); md["Team"] != "OPS" || md["Count"] != "3" || md["Env"] != "prod" {
					t.Errorf("Metadata stored %v", md)
				}
			}},
		// AdditionalEnrollmentFields (pattern Strict).
		{name: "FieldsRequired", mod: strict("AdditionalEnrollmentFields", map[string]any{}), status: 400, code: codeField, field: "AdditionalEnrollmentFields.Ticket", has: "required"},
		{name: "FieldsOptions", mod: strict("AdditionalEnrollmentFields", map[string]any{"Ticket": "CHG-1", "Tier": "bronze"}), status: 400, code: codeField, field: "AdditionalEnrollmentFields.Tier", has: "options"},
		{name: "FieldsType", mod: strict("AdditionalEnrollmentFields", map[string]any{"Ticket": map[string]any{"id": 1}}), status: 400, code: codeField, field: "AdditionalEnrollmentFields.Ticket", has: "string"},
		{name: "FieldsNotObject", mod: strict("AdditionalEnrollmentFields", []string{"CHG-1"}), status: 400, code: codeField, field: "AdditionalEnrollmentFields", has: "JSON object"},
		{name: "FieldsUnknown", mod: strict("AdditionalEnrollmentFields", map[string]any{"Ticket": "CHG-1", "Color": "red"}), status: 400, code: codeField, field: "AdditionalEnrollmentFields.Color"},
		{name: "FieldsOK", mod: strict("AdditionalEnrollmentFields", map[string]any{"Ticket": "CHG-1", "Tier": "gold"}), status: 200},
		// Owner role.
		{name: "OwnerBoth", mod: set("OwnerRoleId", 1, "OwnerRoleName", "Owners"), status: 400, code: codeField, field: "OwnerRoleId", has: "not both"},
		{name: "OwnerUnknownId", mod: set("OwnerRoleId", 999999), status: 400, code: codeField, field: "OwnerRoleId", has: "does not exist"},
		{name: "OwnerUnknownName", mod: set("OwnerRoleName", "NoSuchRole"), status: 400, code: codeField, field: "OwnerRoleName", has: "does not exist"},
		{name: "OwnerRequired", mod: set("Template", nil, "EnrollmentPatternId", patID["OwnerRequired"]), status: 400, code: codeField, field: "OwnerRoleId", has: "required"},
		{name: "OwnerRequiredGiven", mod: set("Template", nil, "EnrollmentPatternId", patID["OwnerRequired"], "OwnerRoleName", "Owners"), status: 200,
			ok: func(t *testing.T, _ *x509.Certificate, body map[string]any) {
				if c := stored(t, body); c["OwnerRoleName"] != "Owners" || c["OwnerRoleId"] == nil {
					t.Errorf("stored owner %v (id %v), want Owners", c["OwnerRoleName"], c["OwnerRoleId"])
				}
			}},
		// Renewal, Timestamp, directory.
		{name: "RenewalUnknown", mod: set("RenewalCertificateId", 999999), status: 400, code: codeField, field: "RenewalCertificateId", has: "does not exist"},
		{name: "TimestampMissing", mod: set("Timestamp", nil), status: 400, code: codeField, field: "Timestamp", has: "required"},
		{name: "TimestampMalformed", mod: set("Timestamp", "yesterday"), status: 400, code: codeField, field: "Timestamp", has: "ISO 8601"},
		{name: "TimestampNotAString", mod: set("Timestamp", 12345), status: 400, code: codeField, field: "Timestamp"},
		{name: "PopulateFromADNoDirectory", mod: set("PopulateMissingValuesFromAD", true), status: 400, code: codeField, field: "PopulateMissingValuesFromAD", has: "no directory"},
		{name: "PopulateFromADv2", version: "2", mod: set("PopulateMissingValuesFromAD", true), status: 400, code: codeField, field: "PopulateMissingValuesFromAD", has: "version 1"},
		// v2 delivery fields.
		{name: "V2UnknownStore", version: "2", mod: set("Stores", []any{map[string]any{"StoreId": "3f1c9a52-0000-4000-8000-000000000001", "Alias": "web"}}), status: 400, code: codeField, field: "Stores[0].StoreId", has: "does not exist"},
		{name: "V2PastJobTime", version: "2", mod: set("JobTime", past), status: 400, code: codeField, field: "JobTime", has: "past"},
		{name: "V2MalformedJobTime", version: "2.0", mod: set("JobTime", "soon"), status: 400, code: codeField, field: "JobTime"},
		{name: "V2OK", version: "2", status: 200,
			ok: func(t *testing.T, _ *x509.Certificate, body map[string]any) {
				if _, ok := body["SuccessfulStores"]; !ok {
					t.Error("v2 answer lacks SuccessfulStores")
				}
			}},
		// Headers and packaging options.
		{name: "FormatMissing", format: "-", status: 400, code: codeField, field: "x-certificateformat", has: "required"},
		{name: "FormatUnknown", format: "P12", status: 400, code: codeField, field: "x-certificateformat", has: "P12"},
		{name: "APIVersionUnknown", version: "3", status: 400, code: codeField, field: "x-keyfactor-api-version"},
		{name: "ChainOrderUnknown", mod: set("ChainOrder", "LeafLast"), status: 400, code: codeField, field: "ChainOrder"},
	}

	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			m := map[string]any{
				"Template": "WebServer", "Subject": "CN=rules.example.com", "SANs": map[string]any{"dns": []string{"rules.example.com"}},
				"KeyType": "ECC", "Curve": "P-256", "Password": rulesPassword, "CustomFriendlyName": "Rules",
				"Metadata": map[string]any{"Team": "OPS"}, "Timestamp": time.Now().UTC().Format(time.RFC3339),
			}
			if r.mod != nil {
				r.mod(m)
			}
			body, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			format := r.format
			switch format {
			case "":
				format = "PEM"
			case "-":
				format = ""
			}
			if r.before != nil {
				r.before(t)
			}
			if r.after != nil {
				defer r.after(t)
			}
			status, b := pfxCall(t, in, r.version, format, string(body))
			if status != r.status {
				t.Fatalf("status %d, want %d: %s\nrequest: %s", status, r.status, b, body)
			}
			if r.status != http.StatusOK {
				e := decodeError(t, b)
				t.Logf("%d %s %s", status, *e.ErrorCode, *e.Message)
				if r.code != "" && *e.ErrorCode != r.code {
					t.Errorf("ErrorCode %s, want %s (%s)", *e.ErrorCode, r.code, *e.Message)
				}
				if !strings.HasPrefix(*e.Message, r.field+": ") {
					t.Errorf("Message %q does not start with %q", *e.Message, r.field+": ")
				}
				if !strings.Contains(*e.Message, r.has) {
					t.Errorf("Message %q does not contain %q", *e.Message, r.has)
				}
				return
			}
			var resp map[string]any
			if err := json.Unmarshal(b, &resp); err != nil {
				t.Fatal(err)
			}
			info, _ := resp["CertificateInformation"].(map[string]any)
			if info["RequestDisposition"] != "ISSUED" {
				t.Fatalf("RequestDisposition %v: %s", info["RequestDisposition"], b)
			}
			blob, _ := info["Pkcs12Blob"].(string)
			bundle, err := base64.StdEncoding.DecodeString(blob)
			if err != nil {
				t.Fatal(err)
			}
			var leaf *x509.Certificate
			for rest := bundle; leaf == nil; {
				var blk *pem.Block
				if blk, rest = pem.Decode(rest); blk == nil {
					t.Fatalf("no certificate in the PEM bundle")
				}
				if blk.Type == "CERTIFICATE" {
					if leaf, err = x509.ParseCertificate(blk.Bytes); err != nil {
						t.Fatal(err)
					}
				}
			}
			if r.ok != nil {
				r.ok(t, leaf, resp)
			}
		})
	}

	t.Run("NoEnrollPermission_403", func(t *testing.T) {
		if code, b := in.call(t, "POST", "/Security/Identities", "admin", adminPassword, `{"AccountName":"noenroll","Password":"noenroll-password-1"}`); code/100 != 2 {
			t.Fatalf("create identity: %d %s", code, b)
		}
		body := `{"Template":"WebServer","Subject":"CN=rules.example.com","Password":"` + rulesPassword + `","CustomFriendlyName":"x","Metadata":{"Team":"OPS"},"Timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `"}`
		code, b := pfxCallAs(t, in, "noenroll", "noenroll-password-1", "1", "PEM", body)
		if code != http.StatusForbidden {
			t.Fatalf("status %d, want 403: %s", code, b)
		}
		if e := decodeError(t, b); *e.ErrorCode != "0xA0140002" {
			t.Errorf("ErrorCode %s, want 0xA0140002", *e.ErrorCode)
		}
	})
	t.Logf("%d rule rows", len(rows))
}
