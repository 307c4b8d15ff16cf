package revocation_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/policy"
	"github.com/certdock/certdock/internal/query"
	"github.com/certdock/certdock/internal/revocation"
)

func addFields(t *testing.T, f *fixture) {
	t.Helper()
	for _, mf := range []policy.MetadataField{
		{Name: "Team", DataType: policy.MetaString, Validation: "^[a-z]+$", Message: "lower-case letters only"},
		{Name: "Count", DataType: policy.MetaInteger},
		{Name: "Env", DataType: policy.MetaMultipleChoice, Options: []string{"prod", "test"}},
	} {
		if _, err := f.db.Q().InsertMetadataField(context.Background(), mf); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUpdateMetadata_Rules(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 1)
	addFields(t, f)
	id := f.certs[0].id
	for _, tt := range []struct {
		name  string
		id    int64
		m     map[string]string
		kind  errs.Kind
		field string
	}{
		{"set", id, map[string]string{"team": "ops", "Count": " 7", "Env": "PROD"}, -1, ""},
		{"regex", id, map[string]string{"Team": "ops-1"}, errs.Invalid, "Metadata.Team"},
		{"integer", id, map[string]string{"Count": "7.5"}, errs.Invalid, "Metadata.Count"},
		{"option", id, map[string]string{"Env": "staging"}, errs.Invalid, "Metadata.Env"},
		{"unknown field", id, map[string]string{"Owner": "x"}, errs.Invalid, "Metadata.Owner"},
		{"nil metadata", id, nil, errs.Invalid, "Metadata"},
		{"unknown certificate", 4242, map[string]string{"Team": "x"}, errs.NotFound, "Id"},
		{"clear", id, map[string]string{"Count": ""}, -1, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := f.svc.UpdateMetadata(ctx, f.admin, tt.id, tt.m)
			if tt.kind == -1 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			e := errs.As(err)
			if e.Kind != tt.kind || e.Field != tt.field || !strings.HasPrefix(e.Message, tt.field+": ") {
				t.Errorf("got %v (kind %d field %q)", err, e.Kind, e.Field)
			}
		})
	}
	rec, _ := f.db.Q().Certificate(ctx, id)
	if rec.Metadata["Team"] != "ops" || rec.Metadata["Env"] != "PROD" || rec.Metadata["Count"] != "" {
		t.Errorf("metadata %v", rec.Metadata)
	}
	h, _ := f.svc.History(ctx, id)
	if len(h) != 2 || h[0].Operation != certificate.OpMetadata || h[0].Message != "metadata changed: Count, Env, Team" || h[1].Message != "metadata changed: Count" {
		t.Errorf("history %+v", h)
	}
}

func TestUpdateMetadataAll_Selection(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 3)
	addFields(t, f)
	a, b, c := f.certs[0].id, f.certs[1].id, f.certs[2].id
	if err := f.svc.UpdateMetadata(ctx, f.admin, a, map[string]string{"Team": "keep"}); err != nil {
		t.Fatal(err)
	}
	n, err := f.svc.UpdateMetadataAll(ctx, f.admin, revocation.MetadataAllRequest{CertificateIDs: []int64{a, b},
		Items: []revocation.MetadataItem{{Name: "team", Value: "new"}, {Name: "Count", Value: "1", Overwrite: true}}})
	if err != nil || n != 2 {
		t.Fatalf("by ids: %d %v", n, err)
	}
	get := func(id int64) map[string]string {
		r, _ := f.db.Q().Certificate(ctx, id)
		return r.Metadata
	}
	if m := get(a); m["Team"] != "keep" || m["Count"] != "1" {
		t.Errorf("a: %v (no overwrite keeps Team)", m)
	}
	if m := get(b); m["Team"] != "new" || m["Count"] != "1" {
		t.Errorf("b: %v", m)
	}
	if m := get(c); len(m) != 0 {
		t.Errorf("c was not selected: %v", m)
	}
	n, err = f.svc.UpdateMetadataAll(ctx, f.admin, revocation.MetadataAllRequest{Query: `Id -ge 2`,
		Items: []revocation.MetadataItem{{Name: "Env", Value: "test", Overwrite: true}}})
	if err != nil || n != 2 || get(a)["Env"] != "" || get(c)["Env"] != "test" {
		t.Errorf("by query: %d %v a=%v c=%v", n, err, get(a), get(c))
	}
	for _, tt := range []struct {
		name  string
		req   revocation.MetadataAllRequest
		field string
	}{
		{"no items", revocation.MetadataAllRequest{CertificateIDs: []int64{a}}, "Metadata"},
		{"no selection", revocation.MetadataAllRequest{Items: []revocation.MetadataItem{{Name: "Team", Value: "x"}}}, "Query"},
		{"unnamed", revocation.MetadataAllRequest{CertificateIDs: []int64{a}, Items: []revocation.MetadataItem{{Value: "x"}}}, "Metadata[0].MetadataName"},
		{"duplicate", revocation.MetadataAllRequest{CertificateIDs: []int64{a}, Items: []revocation.MetadataItem{{Name: "Team"}, {Name: "team"}}}, "Metadata[1].MetadataName"},
		{"bad value", revocation.MetadataAllRequest{CertificateIDs: []int64{a}, Items: []revocation.MetadataItem{{Name: "Count", Value: "x"}}}, "Metadata[0].Value"},
		{"bad id", revocation.MetadataAllRequest{CertificateIDs: []int64{a, -1}, Items: []revocation.MetadataItem{{Name: "Team"}}}, "CertificateIds[1]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.UpdateMetadataAll(ctx, f.admin, tt.req)
			if e := errs.As(err); e.Kind != errs.Invalid || e.Field != tt.field {
				t.Errorf("got %v (field %q), want %s", err, e.Field, tt.field)
			}
		})
	}
	_, err = f.svc.UpdateMetadataAll(ctx, f.admin, revocation.MetadataAllRequest{CertificateIDs: []int64{a, 999}, Items: []revocation.MetadataItem{{Name: "Team", Value: "zzz", Overwrite: true}}})
	if e := errs.As(err); e.Kind != errs.NotFound || get(a)["Team"] != "keep" {
		t.Errorf("unknown id: %v; a's Team %q (must be unchanged)", err, get(a)["Team"])
	}
	_, err = f.svc.UpdateMetadataAll(ctx, f.admin, revocation.MetadataAllRequest{Query: `Nope -eq 1`, Items: []revocation.MetadataItem{{Name: "Team"}}})
	var qe *query.Error
	if !errors.As(err, &qe) {
		t.Errorf("bad query: %v", err)
	}
}

func TestValidate_Results(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 1)
	id := f.certs[0].id
	v, err := f.svc.Validate(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Valid || !strings.HasPrefix(v.Results["Chain"], "valid: CN=leaf <- ") || !strings.HasPrefix(v.Results["Revocation"], "not revoked") {
		t.Errorf("fresh certificate: %+v", v)
	}
	if _, err := f.svc.Revoke(ctx, f.admin, revocation.RevokeRequest{CertificateIDs: []int64{id}, Reason: 4}); err != nil {
		t.Fatal(err)
	}
	v, _ = f.svc.Validate(ctx, id)
	if v.Valid || !strings.Contains(v.Results["Revocation"], "(superseded)") {
		t.Errorf("revoked: %+v", v)
	}
	f.clock.Add(40 * 24 * 60 * 60 * 1e9)
	v, _ = f.svc.Validate(ctx, id)
	if v.Valid || !strings.HasPrefix(v.Results["Validity"], "expired on") || strings.HasPrefix(v.Results["Chain"], "valid") {
		t.Errorf("expired: %+v", v)
	}
	if _, err := f.svc.Validate(ctx, 999); errs.As(err).Kind != errs.NotFound {
		t.Errorf("unknown: %v", err)
	}
}
