package httpapi

import (
	"net/http"

	"github.com/certdock/certdock/internal/auth"
)

// storeRoutes: certificate store types, containers, stores, agents and
// orchestrator jobs (issue 5; handlers in stores*.go, agents.go, jobs.go).
// Store reads and changes are also checked per store container in package
// stores; store types and containers need the permission globally.
func (a *API) storeRoutes() []Route {
	return []Route{
		{http.MethodGet, "/CertificateStoreTypes", auth.StoresRead, a.listStoreTypes},
		{http.MethodGet, "/CertificateStoreTypes/{id}", auth.StoresRead, a.getStoreType},
		{http.MethodGet, "/CertificateStoreTypes/Name/{shortName}", auth.StoresRead, a.getStoreTypeByName},
		{http.MethodPost, "/CertificateStoreTypes", auth.StoresModify, creating(a.saveStoreType)},
		{http.MethodPut, "/CertificateStoreTypes", auth.StoresModify, updating(a.saveStoreType)},
		{http.MethodDelete, "/CertificateStoreTypes/{id}", auth.StoresModify, a.deleteStoreType},

		{http.MethodGet, "/CertificateStoreContainers", auth.StoresRead, a.listContainers},
		{http.MethodGet, "/CertificateStoreContainers/{id}", auth.StoresRead, a.getContainer},
		{http.MethodPost, "/CertificateStoreContainers", auth.StoresModify, creating(a.saveContainer)},
		{http.MethodPut, "/CertificateStoreContainers", auth.StoresModify, updating(a.saveContainer)},
		{http.MethodDelete, "/CertificateStoreContainers/{id}", auth.StoresModify, a.deleteContainer},

		{http.MethodGet, "/CertificateStores", auth.StoresRead, a.listStores},
		{http.MethodGet, "/CertificateStores/{id}", auth.StoresRead, a.getStore},
		{http.MethodPost, "/CertificateStores", auth.StoresModify, a.postStore},
		{http.MethodPut, "/CertificateStores", auth.StoresModify, a.putStore},
		{http.MethodDelete, "/CertificateStores/{id}", auth.StoresModify, a.deleteStore},
		{http.MethodGet, "/CertificateStores/{id}/Inventory", auth.StoresRead, a.getStoreInventory},

		// GET /Certificates/Locations/{id}, see getCertificateSub
		{http.MethodGet, "/Certificates/{sub}/{id}", auth.CertificatesRead, a.getCertificateSub},

		{http.MethodGet, "/Agents", auth.AgentsRead, a.listAgents},
		{http.MethodGet, "/Agents/{id}", auth.AgentsRead, a.getAgent},
		{http.MethodPost, "/Agents/Approve", auth.AgentsModify, a.postAgentsApprove},
		{http.MethodPost, "/Agents/Disapprove", auth.AgentsModify, a.postAgentsDisapprove},
		{http.MethodPost, "/Agents/{id}/Reset", auth.AgentsModify, a.postAgentReset},
		{http.MethodPost, "/Agents/RegistrationTokens", auth.AgentsModify, a.postRegistrationToken},

		{http.MethodGet, "/OrchestratorJobs/ScheduledJobs", auth.AgentsRead, a.listScheduledJobs},
		{http.MethodGet, "/OrchestratorJobs/JobHistory", auth.AgentsRead, a.listJobHistory},
	}
}
