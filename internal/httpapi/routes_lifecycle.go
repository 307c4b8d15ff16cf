package httpapi

// lifecycleRoutes: CSR enrollment, renewal, download, key recovery and enrollment context (issue 4).
func (a *API) lifecycleRoutes() []Route {
	return nil
}
