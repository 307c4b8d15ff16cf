// Package httpapi is the Keyfactor Command REST transport under
// /KeyfactorAPI: the route table (every route names the permission it
// needs), request/response DTOs matching the vendor's JSON, and the one
// place where errs kinds become HTTP statuses and the Keyfactor error body.
// Handlers decode, make one call into a domain service, and render.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/admin"
	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/delivery"
	"github.com/certdock/certdock/internal/enroll"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/jobs"
	"github.com/certdock/certdock/internal/retrieve"
	"github.com/certdock/certdock/internal/revocation"
	"github.com/certdock/certdock/internal/stores"
	"github.com/certdock/certdock/internal/workflow"
)

// Prefix is where the API lives.
const Prefix = "/KeyfactorAPI"

// Options wires the API.
type Options struct {
	Logger         *slog.Logger
	Auth           *auth.Authenticator
	Admin          *admin.Service
	Certificates   *certificate.Service
	Enroll         *enroll.Service
	Retrieve       *retrieve.Service   // download and key recovery (routes_lifecycle.go)
	Delivery       *delivery.Service   // nil: no delivery routes (routes_delivery.go)
	Stores         *stores.Service     // store types, containers, stores, agents (routes_stores.go)
	Jobs           *jobs.Service       // orchestrator job queue (routes_stores.go)
	Revocation     *revocation.Service // nil: no revocation routes (routes_revocation.go)
	Workflow       *workflow.Service   // nil: no workflow routes (routes_workflow.go)
	Health         func(ctx context.Context) error
	Now            func() time.Time
	ProductVersion string
}

// API serves the Keyfactor REST API.
type API struct {
	o      Options
	mux    *http.ServeMux
	routes []Route
	// canonical maps a lower-cased literal path segment to its canonical
	// spelling, so that /keyfactorapi/certificates reaches /KeyfactorAPI/Certificates
	// as it does on the vendor's (case-insensitive) server.
	canonical map[string]string
	endpoints []string // GET /Status/Endpoints, built from routes
}

// Route is one entry of the route table.
type Route struct {
	Method     string
	Path       string          // below Prefix, with {name} wildcards
	Permission auth.Permission // "" only for the anonymous health check
	Handler    HandlerFunc
}

// HandlerFunc handles an authenticated request.
type HandlerFunc func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error

// New builds the API and its route table.
func New(o Options) *API {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ProductVersion == "" {
		o.ProductVersion = "25.1.0.0"
	}
	a := &API{o: o, mux: http.NewServeMux(), canonical: map[string]string{}}
	a.routes = a.table()
	a.endpoints = endpointList(a.routes)
	for _, rt := range a.routes {
		rt := rt
		a.mux.HandleFunc(rt.Method+" "+Prefix+rt.Path, func(w http.ResponseWriter, r *http.Request) {
			a.serve(w, r, rt)
		})
		for _, seg := range strings.Split(Prefix+rt.Path, "/") {
			if seg != "" && !strings.HasPrefix(seg, "{") {
				a.canonical[strings.ToLower(seg)] = seg
			}
		}
	}
	a.mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, errs.NotFoundf("no endpoint %s %s", r.Method, r.URL.Path))
	})
	return a
}

// Routes returns the route table (tests walk it to prove every endpoint
// checks its permission).
func (a *API) Routes() []Route { return a.routes }

// ServeHTTP normalises the request the way the vendor's clients need and
// dispatches it.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// One client sends the method "Put": methods match case-insensitively.
	r.Method = strings.ToUpper(r.Method)
	// GetEnrollmentPatterns appends "?QueryString=..." to the path before
	// escaping it, so the query arrives as %3F inside the path.
	if i := strings.Index(r.URL.Path, "?"); i >= 0 {
		extra := r.URL.Path[i+1:]
		r.URL.Path = r.URL.Path[:i]
		r.URL.RawPath = ""
		if r.URL.RawQuery != "" {
			r.URL.RawQuery = extra + "&" + r.URL.RawQuery
		} else {
			r.URL.RawQuery = extra
		}
	}
	r.URL.Path = a.canonicalPath(r.URL.Path)
	r.URL.RawPath = ""
	a.mux.ServeHTTP(w, r)
}

func (a *API) canonicalPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if c, ok := a.canonical[strings.ToLower(s)]; ok {
			segs[i] = c
		}
	}
	// Clients join paths with a trailing slash ("Templates/").
	out := strings.Join(segs, "/")
	if len(out) > len(Prefix)+1 {
		out = strings.TrimSuffix(out, "/")
	}
	return out
}

func (a *API) serve(w http.ResponseWriter, r *http.Request, rt Route) {
	start := a.o.Now()
	rec := &statusRecorder{ResponseWriter: w, status: 200}
	var user string
	defer func() {
		if v := recover(); v != nil {
			a.o.Logger.Error("panic in handler", "path", rt.Path, "panic", v, "stack", string(debug.Stack()))
			a.writeError(rec, r, errs.E(errs.Internal, errs.CodeInternal, "internal server error"))
		}
		a.o.Logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration_ms", float64(a.o.Now().Sub(start).Microseconds())/1000, "user", user)
	}()
	w = rec
	w.Header().Set("x-keyfactor-product-version", a.o.ProductVersion)
	// Bodies on GET and DELETE (the go-client sends "null") are ignored.
	if r.Method == http.MethodGet || r.Method == http.MethodDelete {
		r.Body = http.NoBody
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	}
	var p *auth.Principal
	if rt.Permission != "" {
		var err error
		p, err = a.o.Auth.Basic(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="certdock"`)
			a.writeError(w, r, err)
			return
		}
		user = p.AccountName
		if !p.Has(rt.Permission) && !scopedOnly(rt.Permission, p) {
			a.writeError(w, r, errs.Forbiddenf("%s lacks the permission %s needed for %s %s", p.AccountName, rt.Permission, rt.Method, rt.Path))
			return
		}
	}
	if err := rt.Handler(w, r, p); err != nil {
		a.writeError(w, r, err)
	}
}

// scopedOnly lets a principal with a container-scoped grant of a store
// permission reach the handler, which then checks the container.
func scopedOnly(perm auth.Permission, p *auth.Principal) bool {
	for _, g := range p.Grants() {
		if g.Permission == perm && g.Container != 0 {
			return true
		}
	}
	return false
}

// maxBody caps request bodies: the largest legitimate body (a CSR with many
// SANs and metadata) is far below it.
const maxBody = 1 << 20

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}
