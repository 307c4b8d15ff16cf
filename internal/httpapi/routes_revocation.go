package httpapi

// revocationRoutes: revocation, certificate metadata updates, history and validation (issue 4).
func (a *API) revocationRoutes() []Route {
	return nil
}
