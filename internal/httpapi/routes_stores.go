package httpapi

// storeRoutes: certificate store types, containers, stores, agents and orchestrator jobs (issue 5).
func (a *API) storeRoutes() []Route {
	return nil
}
