package httpapi

// workflowRoutes: approval workflows: definitions, instances and certificate requests (issue 6).
func (a *API) workflowRoutes() []Route {
	return nil
}
