package e2e

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	kfv1 "github.com/Keyfactor/keyfactor-go-client-sdk/v25/api/keyfactor/v1"
)

// exampleSetup is the document docs/setup-file.md shows.
func exampleSetup() map[string]any {
	return map[string]any{
		"Settings": map[string]any{"PasswordLength": 14, "CommonNameRegex": ".+", "RequireCustomFriendlyName": false,
			"AllowCSPs": true, "CSPs": []string{"Microsoft Enhanced RSA and AES Cryptographic Provider"},
			"KeyInfo": map[string]any{"RSA": map[string]any{"bit_lengths": []int{2048, 3072, 4096}},
				"ECDSA": map[string]any{"curves": []string{"1.2.840.10045.3.1.7"}}}},
		"MetadataFields":         []any{map[string]any{"Name": "Team", "DataType": 1, "Enrollment": 1}},
		"CertificateAuthorities": []any{map[string]any{"LogicalName": "StandaloneCA1", "Standalone": true, "StandaloneValidityDays": 90}},
		"Templates": []any{map[string]any{"CommonName": "Internal", "ValidityDays": 90, "ExtendedKeyUsage": []string{"1.3.6.1.5.5.7.3.1"},
			"KeyInfo":                map[string]any{"ECDSA": map[string]any{"curves": []string{"1.2.840.10045.3.1.7"}}},
			"CertificateAuthorities": []string{"IssuingCA1"}}},
		"EnrollmentPatterns": []any{map[string]any{"Name": "Internal default", "Template": "Internal", "TemplateDefault": true}},
		"Identities":         []any{map[string]any{"AccountName": "alice", "PasswordEnv": "E2E_ALICE_PASSWORD"}},
		"Roles": []any{map[string]any{"Name": "Enrollers", "Permissions": []string{"/certificates/enrollment/pfx/", "/portal/read/"},
			"Identities": []string{"alice"}}},
	}
}

func TestSetupFile_Applied(t *testing.T) {
	const alicePW = "alice-password-1234"
	t.Setenv("E2E_ALICE_PASSWORD", alicePW)
	in := startSetup(t, "", writeSetup(t, exampleSetup()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := kfv1.NewAPIClient(in.sdkConfig())
	if err != nil {
		t.Fatal(err)
	}

	t.Run("Templates", func(t *testing.T) {
		tpls, _, err := c.TemplateApi.NewGetTemplatesRequest(ctx).Execute()
		if err != nil {
			t.Fatalf("GET Templates: %s", sdkErr(err))
		}
		var names []string
		for _, tp := range tpls {
			names = append(names, tp.GetCommonName())
		}
		if !slices.Contains(names, "Internal") {
			t.Errorf("template Internal missing among %v", names)
		}
	})
	t.Run("CertificateAuthorities", func(t *testing.T) {
		cas, _, err := c.CertificateAuthorityApi.NewGetCertificateAuthorityRequest(ctx).Execute()
		if err != nil {
			t.Fatalf("GET CertificateAuthority: %s", sdkErr(err))
		}
		found := false
		for _, ca := range cas {
			if ca.GetLogicalName() == "StandaloneCA1" {
				found = true
				if !ca.GetStandalone() {
					t.Errorf("StandaloneCA1 is not standalone")
				}
			}
		}
		if !found {
			t.Errorf("CA StandaloneCA1 missing (%d CAs)", len(cas))
		}
	})
	t.Run("EnrollmentPatterns", func(t *testing.T) {
		pats, _, err := c.EnrollmentPatternApi.NewGetEnrollmentPatternsRequest(ctx).Execute()
		if err != nil {
			t.Fatalf("GET EnrollmentPatterns: %s", sdkErr(err))
		}
		found := false
		for _, p := range pats {
			if p.GetName() == "Internal default" {
				found = true
				if tpl := p.GetTemplate(); tpl.GetCommonName() != "Internal" {
					t.Errorf("pattern template %q, want Internal", tpl.GetCommonName())
				}
			}
		}
		if !found {
			t.Errorf("pattern \"Internal default\" missing (%d patterns)", len(pats))
		}
	})
	t.Run("MetadataFields", func(t *testing.T) {
		fields, _, err := c.MetadataFieldApi.NewGetMetadataFieldsRequest(ctx).Execute()
		if err != nil {
			t.Fatalf("GET MetadataFields: %s", sdkErr(err))
		}
		found := false
		for _, f := range fields {
			if f.GetName() == "Team" {
				found = true
				if f.GetDataType() != 1 {
					t.Errorf("Team DataType %d, want 1 (String)", f.GetDataType())
				}
			}
		}
		if !found {
			t.Errorf("metadata field Team missing (%d fields)", len(fields))
		}
	})
	t.Run("Roles", func(t *testing.T) {
		roles, _, err := c.SecurityRolesApi.NewGetSecurityRolesRequest(ctx).Execute()
		if err != nil {
			t.Fatalf("GET Security/Roles: %s", sdkErr(err))
		}
		found := false
		for _, r := range roles {
			if r.GetName() == "Enrollers" {
				found = true
				for _, want := range []string{"/certificates/enrollment/pfx/", "/portal/read/"} {
					if !slices.ContainsFunc(r.Permissions, func(p string) bool { return strings.EqualFold(p, want) }) {
						t.Errorf("Enrollers lacks %s: %v", want, r.Permissions)
					}
				}
			}
		}
		if !found {
			t.Errorf("role Enrollers missing (%d roles)", len(roles))
		}
	})
	t.Run("Settings", func(t *testing.T) {
		settings, _, err := c.AppSettingApi.NewGetAppSettingRequest(ctx).Execute()
		if err != nil {
			t.Fatalf("GET AppSetting: %s", sdkErr(err))
		}
		got := map[string]string{}
		for _, s := range settings {
			got[s.GetShortName()] = s.GetValue()
		}
		want := map[string]string{"PasswordLength": "14", "AllowCSPs": "true",
			"CSPList": "Microsoft Enhanced RSA and AES Cryptographic Provider"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("AppSetting %s = %q, want %q", k, got[k], v)
			}
		}
	})
	t.Run("IdentityLogsInWithRole", func(t *testing.T) {
		code, b := in.call(t, "GET", "/Security/My", "alice", alicePW, "")
		if code != http.StatusOK {
			t.Fatalf("GET Security/My as alice: %d %s", code, b)
		}
		// alice holds no template permission: the role grants exactly what the file says.
		if code, b := in.call(t, "GET", "/Templates", "alice", alicePW, ""); code != http.StatusForbidden {
			t.Errorf("GET Templates as alice: %d, want 403: %s", code, b)
		}
	})
}

func TestSetupFile_Rejected(t *testing.T) {
	t.Setenv("E2E_EMPTY_PASSWORD", "")
	t.Setenv("E2E_ALICE_PASSWORD", "alice-password-1234")
	with := func(key string, v any) map[string]any {
		d := exampleSetup()
		d[key] = v
		return d
	}
	tests := []struct {
		name string
		doc  map[string]any
		want []string // every one must appear in the error
	}{
		{"unknown top-level field", with("Templatez", []any{}), []string{"Templatez"}},
		{"unknown template field", with("Templates", []any{map[string]any{"CommonName": "X", "ValidityDayz": 3}}), []string{"ValidityDayz"}},
		{"pattern names a missing template", with("EnrollmentPatterns", []any{map[string]any{"Name": "P", "Template": "NoSuchTemplate"}}),
			[]string{"EnrollmentPatterns", "NoSuchTemplate"}},
		{"template names a missing CA", with("Templates", []any{map[string]any{"CommonName": "T", "ValidityDays": 30,
			"CertificateAuthorities": []string{"NoSuchCA"}}}), []string{"Templates", "NoSuchCA"}},
		{"identity password env empty", with("Identities", []any{map[string]any{"AccountName": "bob", "PasswordEnv": "E2E_EMPTY_PASSWORD"}}),
			[]string{"Identities", "E2E_EMPTY_PASSWORD"}},
		{"role with unknown permission", with("Roles", []any{map[string]any{"Name": "R", "Permissions": []string{"/no/such/permission/"}}}),
			[]string{"Roles", "Permissions"}},
		{"password length too small", with("Settings", map[string]any{"PasswordLength": -1, "CommonNameRegex": ".+"}),
			[]string{"Settings", "PasswordLength"}},
		{"bad metadata type", with("MetadataFields", []any{map[string]any{"Name": "Bad", "DataType": 99}}),
			[]string{"MetadataFields", "DataType"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := openErr(t, writeSetup(t, tc.doc))
			if err == nil {
				t.Fatal("server started with a bad setup file")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}
