package httpapi

// deliveryRoutes: delivery into certificate stores: Deploy, Replace, Certificates Add/Remove (issue 5).
func (a *API) deliveryRoutes() []Route {
	return nil
}
