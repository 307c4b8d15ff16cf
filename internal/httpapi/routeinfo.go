package httpapi

import "github.com/certdock/certdock/internal/auth"

// RouteInfo is one route of the table without its handler: what tests and
// documentation need to walk every endpoint.
type RouteInfo struct {
	Method     string
	Path       string          // below Prefix, with {name} wildcards
	Permission auth.Permission // "" only for the anonymous health check
}

// RouteTable returns the method, path and permission of every route the API
// serves, in table order. It is built from the same table New mounts, so a
// route added to any area's file shows up here without further work.
func RouteTable() []RouteInfo {
	a := &API{} // the table only takes method values of a; nothing is called
	var out []RouteInfo
	for _, rt := range a.table() {
		out = append(out, RouteInfo{Method: rt.Method, Path: rt.Path, Permission: rt.Permission})
	}
	return out
}
