package httpapi

import (
	"net/http"

	"github.com/certdock/certdock/internal/auth"
)

// table is the route table: method, path below /KeyfactorAPI, the
// permission the caller needs, and the handler. docs/permissions.md lists
// it for people.
func (a *API) table() []Route {
	var t []Route
	t = append(t, a.foundationRoutes()...)
	t = append(t, a.lifecycleRoutes()...)  // routes_lifecycle.go: CSR, renew, download, recover, context
	t = append(t, a.revocationRoutes()...) // routes_revocation.go: revoke, metadata, history, validate
	t = append(t, a.storeRoutes()...)      // routes_stores.go: store types, containers, stores, agents, jobs
	t = append(t, a.deliveryRoutes()...)   // routes_delivery.go: Deploy, Replace, Certificates Add/Remove
	t = append(t, a.workflowRoutes()...)   // routes_workflow.go: workflow definitions, instances, requests
	return t
}

// foundationRoutes are the configuration, security, inventory and PFX
// enrollment routes.
func (a *API) foundationRoutes() []Route {
	return []Route{
		{http.MethodGet, "/Status/Endpoints", auth.PortalRead, a.getStatusEndpoints},
		{http.MethodGet, "/Status/HealthCheck", "", a.getHealthCheck},

		{http.MethodGet, "/CertificateAuthority", auth.CAsRead, a.listCAs},
		{http.MethodGet, "/CertificateAuthority/{id}", auth.CAsRead, a.getCA},

		{http.MethodGet, "/Templates", auth.TemplatesRead, a.listTemplates},
		{http.MethodGet, "/Templates/{id}", auth.TemplatesRead, a.getTemplate},
		{http.MethodPut, "/Templates", auth.TemplatesModify, a.putTemplate},

		{http.MethodGet, "/EnrollmentPatterns", auth.PatternsRead, a.listPatterns},
		{http.MethodGet, "/EnrollmentPatterns/{id}", auth.PatternsRead, a.getPattern},
		{http.MethodPost, "/EnrollmentPatterns", auth.PatternsModify, a.postPattern},
		{http.MethodPut, "/EnrollmentPatterns", auth.PatternsModify, a.putPattern},
		{http.MethodPut, "/EnrollmentPatterns/{id}", auth.PatternsModify, a.putPattern},
		{http.MethodDelete, "/EnrollmentPatterns/{id}", auth.PatternsModify, a.deletePattern},
		{http.MethodGet, "/EnrollmentPatterns/Settings", auth.SettingsRead, a.getPatternSettings},
		{http.MethodPut, "/EnrollmentPatterns/Settings", auth.SettingsModify, a.putPatternSettings},

		{http.MethodGet, "/AppSetting", auth.SettingsRead, a.listAppSettings},
		{http.MethodGet, "/AppSetting/{id}", auth.SettingsRead, a.getAppSetting},
		{http.MethodPut, "/AppSetting/{id}/Set", auth.SettingsModify, a.setAppSetting},

		{http.MethodGet, "/MetadataFields", auth.MetadataRead, a.listMetadataFields},
		{http.MethodGet, "/MetadataFields/{id}", auth.MetadataRead, a.getMetadataField},
		{http.MethodGet, "/MetadataFields/{id}/InUse", auth.MetadataRead, a.metadataFieldInUse},
		{http.MethodPost, "/MetadataFields", auth.MetadataModify, a.postMetadataField},
		{http.MethodPut, "/MetadataFields", auth.MetadataModify, a.putMetadataField},
		{http.MethodDelete, "/MetadataFields/{id}", auth.MetadataModify, a.deleteMetadataField},

		{http.MethodGet, "/Security/My", auth.PortalRead, a.getMy},
		{http.MethodGet, "/Security/Identities", auth.SecurityRead, a.listIdentities},
		{http.MethodGet, "/Security/Identities/{id}", auth.SecurityRead, a.getIdentity},
		{http.MethodPost, "/Security/Identities", auth.SecurityModify, a.postIdentity},
		{http.MethodDelete, "/Security/Identities/{id}", auth.SecurityModify, a.deleteIdentity},
		{http.MethodGet, "/Security/Roles", auth.SecurityRead, a.listRoles},
		{http.MethodGet, "/Security/Roles/{id}", auth.SecurityRead, a.getRole},
		{http.MethodPost, "/Security/Roles", auth.SecurityModify, a.postRole},
		{http.MethodPut, "/Security/Roles", auth.SecurityModify, a.putRole},
		{http.MethodDelete, "/Security/Roles/{id}", auth.SecurityModify, a.deleteRole},

		{http.MethodGet, "/Certificates", auth.CertificatesRead, a.listCertificates},
		{http.MethodGet, "/Certificates/{id}", auth.CertificatesRead, a.getCertificate},

		{http.MethodPost, "/Enrollment/PFX", auth.EnrollPFX, a.postEnrollPFX},
	}
}
