package httpapi

import (
	"net/http"

	"github.com/certdock/certdock/internal/auth"
)

// revocationRoutes: revocation, certificate metadata updates, history and validation (issue 4).
func (a *API) revocationRoutes() []Route {
	if a.o.Revocation == nil {
		return nil
	}
	return []Route{
		{http.MethodPost, "/Certificates/Revoke", auth.CertificatesRevoke, a.postRevoke},
		{http.MethodPut, "/Certificates/Metadata", auth.CertificatesMetadata, a.putCertificateMetadata},
		{http.MethodPut, "/Certificates/Metadata/All", auth.CertificatesMetadata, a.putCertificateMetadataAll},
		{http.MethodGet, "/Certificates/{id}/History", auth.CertificatesRead, a.getCertificateHistory},
		{http.MethodGet, "/Certificates/{id}/Validate", auth.CertificatesRead, a.getCertificateValidate},
	}
}
