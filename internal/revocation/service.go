package revocation

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/certdock/certdock/internal/query"
)

// Defaults for Options.
const (
	// DefaultCRLValidity is a CRL's lifetime (nextUpdate - thisUpdate).
	DefaultCRLValidity = 24 * time.Hour
	// DefaultOCSPValidity is an OCSP response's lifetime. Responses are
	// signed per request from the inventory, so a short lifetime costs
	// nothing and bounds how long a cached "good" outlives a revocation.
	DefaultOCSPValidity = time.Hour
)

// Options wires the service.
type Options struct {
	Store Store
	InTx  func(ctx context.Context, fn func(Store) error) error
	// CAs are the issuing CAs whose revocation information is published.
	CAs     []CA
	Dialect query.Dialect
	Now     func() time.Time
	// IsNotFound recognises the store's not-found error.
	IsNotFound func(error) bool
	Logger     *slog.Logger

	// CRLValidity is nextUpdate - thisUpdate; zero means
	// DefaultCRLValidity. A CRL is re-signed once half of it has passed,
	// so relying parties always hold one that is still current.
	CRLValidity time.Duration
	// OCSPValidity is nextUpdate - thisUpdate of OCSP responses; zero
	// means DefaultOCSPValidity.
	OCSPValidity time.Duration
}

// Service revokes certificates, updates their metadata, and publishes
// CRLs and OCSP responses for the built-in CAs. It is safe for concurrent
// use.
type Service struct {
	o    Options
	cas  map[int64]CA
	byLN map[string]CA

	mu    sync.Mutex
	dirty map[int64]bool // CAs whose CRL lags a revocation
	// checked holds the CAs whose stored CRL has been compared with the
	// database since the process started: a revocation committed just
	// before a crash was never marked dirty in this process.
	checked map[int64]bool
	pubMu   sync.Mutex // serialises on-demand and scheduled publication
	kick    chan struct{}
}

// New builds the service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.IsNotFound == nil {
		o.IsNotFound = func(error) bool { return false }
	}
	if o.CRLValidity <= 0 {
		o.CRLValidity = DefaultCRLValidity
	}
	if o.OCSPValidity <= 0 {
		o.OCSPValidity = DefaultOCSPValidity
	}
	s := &Service{o: o, cas: map[int64]CA{}, byLN: map[string]CA{}, dirty: map[int64]bool{}, checked: map[int64]bool{}, kick: make(chan struct{}, 1)}
	for _, c := range o.CAs {
		s.cas[c.ID] = c
		s.byLN[c.LogicalName] = c
	}
	return s
}

func (s *Service) now() time.Time { return s.o.Now().UTC() }

// CAs lists the CAs the service publishes for, by id.
func (s *Service) CAs() []CA {
	out := make([]CA, 0, len(s.cas))
	for _, c := range s.cas {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// CAByName finds a CA by logical name.
func (s *Service) CAByName(name string) (CA, bool) {
	c, ok := s.byLN[name]
	return c, ok
}
