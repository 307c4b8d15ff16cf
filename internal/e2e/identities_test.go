package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	kfv1 "github.com/Keyfactor/keyfactor-go-client-sdk/v25/api/keyfactor/v1"
)

// Identities (create, list, get, delete with 204) and role create and update
// (PUT) through the official SDK, on both databases.
func TestSDK_IdentitiesAndRoles(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { runIdentities(t, start(t, "")) })
	t.Run("postgres", func(t *testing.T) { runIdentities(t, start(t, postgresDSN(t))) })
}

func runIdentities(t *testing.T, in *instance) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := kfv1.NewAPIClient(in.sdkConfig())
	if err != nil {
		t.Fatal(err)
	}
	const account = `EXAMPLE\sdk-user`

	created, _, err := c.SecurityApi.NewCreateSecurityIdentitiesRequest(ctx).
		SecuritySecurityIdentitiesSecurityIdentityRequest(*kfv1.NewSecuritySecurityIdentitiesSecurityIdentityRequest(account)).Execute()
	if err != nil {
		t.Fatalf("POST Security/Identities: %s", sdkErr(err))
	}
	id := created.GetId()
	if id <= 0 || created.GetAccountName() != account {
		t.Fatalf("created identity: id %d account %q", id, created.GetAccountName())
	}

	// GET by id: the SDK's model for this call is the permissions view, so
	// check the raw body the SDK received.
	_, resp, err := c.SecurityApi.NewGetSecurityIdentitiesByIdRequest(ctx, id).Execute()
	if err != nil {
		t.Fatalf("GET Security/Identities/%d: %s", id, sdkErr(err))
	}
	raw, _ := io.ReadAll(resp.Body)
	var one struct {
		Id          int32
		AccountName string
	}
	if err := json.Unmarshal(raw, &one); err != nil || one.Id != id || one.AccountName != account {
		t.Errorf("GET Security/Identities/%d = %s (%v)", id, raw, err)
	}

	// A role holding the identity, then updated with PUT.
	cr := kfv1.NewSecurityLegacySecurityRolesSecurityRoleCreationRequest("SDK Readers", "reads templates")
	cr.SetPermissions([]string{"/certificate_templates/read/"})
	ident := kfv1.CSSCMSDataModelModelsSecurityIdentitiesSecurityIdentityIdentifier{}
	ident.SetAccountName(account)
	cr.SetIdentities([]kfv1.CSSCMSDataModelModelsSecurityIdentitiesSecurityIdentityIdentifier{ident})
	role, _, err := c.SecurityRolesApi.NewCreateSecurityRolesRequest(ctx).SecurityLegacySecurityRolesSecurityRoleCreationRequest(*cr).Execute()
	if err != nil {
		t.Fatalf("POST Security/Roles: %s", sdkErr(err))
	}
	roleID := role.GetId()

	ur := kfv1.NewSecurityLegacySecurityRolesSecurityRoleUpdateRequest(roleID, "SDK Readers", "reads templates and patterns")
	ur.SetPermissions([]string{"/certificate_templates/read/", "/enrollment_patterns/read/"})
	ur.SetIdentities([]kfv1.CSSCMSDataModelModelsSecurityIdentitiesSecurityIdentityIdentifier{ident})
	updated, _, err := c.SecurityRolesApi.NewUpdateSecurityRolesRequest(ctx).SecurityLegacySecurityRolesSecurityRoleUpdateRequest(*ur).Execute()
	if err != nil {
		t.Fatalf("PUT Security/Roles: %s", sdkErr(err))
	}
	if updated.GetDescription() != "reads templates and patterns" {
		t.Errorf("PUT response Description %q", updated.GetDescription())
	}
	back, _, err := c.SecurityRolesApi.NewGetSecurityRolesByIdRequest(ctx, roleID).Execute()
	if err != nil {
		t.Fatalf("GET Security/Roles/%d: %s", roleID, sdkErr(err))
	}
	perms := back.Permissions
	for _, want := range []string{"/certificate_templates/read/", "/enrollment_patterns/read/"} {
		if !slices.ContainsFunc(perms, func(p string) bool { return strings.EqualFold(p, want) }) {
			t.Errorf("role after PUT lacks %s: %v", want, perms)
		}
	}
	if back.GetDescription() != "reads templates and patterns" {
		t.Errorf("role after PUT: Description %q", back.GetDescription())
	}
	members := back.GetIdentities()
	if len(members) != 1 || members[0].GetAccountName() != account {
		t.Errorf("role after PUT: identities %+v, want only %s", members, account)
	}

	// The identity lists its role.
	list, _, err := c.SecurityApi.NewGetSecurityIdentitiesRequest(ctx).Execute()
	if err != nil {
		t.Fatalf("GET Security/Identities: %s", sdkErr(err))
	}
	found := false
	for _, i := range list {
		if i.GetId() == id {
			found = true
			if rs := i.GetRoles(); len(rs) != 1 || rs[0].GetName() != "SDK Readers" {
				t.Errorf("identity roles %+v, want SDK Readers", rs)
			}
		}
	}
	if !found {
		t.Errorf("identity %d not listed", id)
	}

	// DELETE answers 204 exactly, and the identity is gone.
	resp, err = c.SecurityApi.NewDeleteSecurityIdentitiesByIdRequest(ctx, id).Execute()
	if err != nil {
		t.Fatalf("DELETE Security/Identities/%d: %s", id, sdkErr(err))
	}
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE Security/Identities/%d: status %d, want 204", id, resp.StatusCode)
	}
	if _, resp, err := c.SecurityApi.NewGetSecurityIdentitiesByIdRequest(ctx, id).Execute(); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Errorf("GET deleted identity: status %d err %v, want 404", code, err)
	}
	back, _, err = c.SecurityRolesApi.NewGetSecurityRolesByIdRequest(ctx, roleID).Execute()
	if err != nil {
		t.Fatalf("GET Security/Roles/%d after delete: %s", roleID, sdkErr(err))
	}
	if n := len(back.GetIdentities()); n != 0 {
		t.Errorf("role still lists %d identities after the identity was deleted", n)
	}
}
