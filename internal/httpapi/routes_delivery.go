package httpapi

import (
	"net/http"

	"github.com/certdock/certdock/internal/auth"
)

// deliveryRoutes: delivery into certificate stores: Deploy, Replace, Certificates Add/Remove (issue 5).
// Each needs the store schedule permission, globally or on a container: a
// caller holding it only on some containers reaches the handler, and
// internal/delivery checks each store's container (docs/delivery.md).
func (a *API) deliveryRoutes() []Route {
	if a.o.Delivery == nil {
		return nil
	}
	return []Route{
		{http.MethodPost, "/Enrollment/PFX/Deploy", auth.StoresSchedule, a.postDeploy},
		{http.MethodPost, "/Enrollment/PFX/Replace", auth.StoresSchedule, a.postReplace},
		{http.MethodPost, "/CertificateStores/Certificates/Add", auth.StoresSchedule, a.postStoreCertificatesAdd},
		{http.MethodPost, "/CertificateStores/Certificates/Remove", auth.StoresSchedule, a.postStoreCertificatesRemove},
	}
}
