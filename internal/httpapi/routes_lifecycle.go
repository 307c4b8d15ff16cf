package httpapi

import (
	"net/http"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/enroll"
)

// lifecycleRoutes: CSR enrollment, renewal, download, key recovery and enrollment context (issue 4).
func (a *API) lifecycleRoutes() []Route {
	return []Route{
		{http.MethodPost, "/Enrollment/CSR", auth.EnrollCSR, a.postEnrollCSR},
		{http.MethodPost, "/Enrollment/CSR/Parse", auth.EnrollCSR, a.postParseCSR},
		{http.MethodPost, "/Enrollment/Renew", auth.EnrollPFX, a.postRenew},
		{http.MethodGet, "/Enrollment/AvailableRenewal/Id/{id}", auth.CertificatesRead, a.getAvailableRenewalByID},
		{http.MethodGet, "/Enrollment/AvailableRenewal/Thumbprint/{tp}", auth.CertificatesRead, a.getAvailableRenewalByThumbprint},
		{http.MethodGet, "/Enrollment/PFX/Context/My", auth.EnrollPFX, a.enrollmentContext(enroll.KindPFX)},
		{http.MethodGet, "/Enrollment/CSR/Context/My", auth.EnrollCSR, a.enrollmentContext(enroll.KindCSR)},
		{http.MethodPost, "/Certificates/Download", auth.CertificatesRead, a.postDownload},
		{http.MethodPost, "/Certificates/Recover", auth.CertificatesRecover, a.postRecover},
	}
}
