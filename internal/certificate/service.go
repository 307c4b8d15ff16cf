package certificate

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/query"
)

// ListQuery is a compiled list request for the storage layer.
type ListQuery struct {
	Where          string // SQL condition over QuerySchema's columns, "" for none
	Args           []any
	OrderBy        string
	Limit, Offset  int
	IncludeRevoked bool
	IncludeExpired bool
	Now            time.Time
}

// Store is what the read service needs from storage.
type Store interface {
	Certificate(ctx context.Context, id int64) (Record, error)
	Certificates(ctx context.Context, q ListQuery) ([]Record, error)
}

// Service reads the certificate inventory.
type Service struct {
	store      Store
	dialect    query.Dialect
	now        func() time.Time
	isNotFound func(error) bool
}

// NewService builds the service.
func NewService(store Store, d query.Dialect, now func() time.Time, isNotFound func(error) bool) *Service {
	return &Service{store: store, dialect: d, now: now, isNotFound: isNotFound}
}

// Get returns one certificate.
func (s *Service) Get(ctx context.Context, id int64) (Record, error) {
	r, err := s.store.Certificate(ctx, id)
	if s.isNotFound(err) {
		return r, errs.NotFoundf("certificate %d was not found", id)
	}
	return r, errs.Wrap(err, "reading certificate")
}

// ListOptions are the filters of GET /Certificates beyond paging.
type ListOptions struct {
	IncludeRevoked bool
	IncludeExpired bool
}

// List runs a GET /Certificates request: the query string, paging and
// sorting parameters are read from v (bare or "pq."-prefixed).
func (s *Service) List(ctx context.Context, v url.Values, o ListOptions) ([]Record, error) {
	page, err := query.ParsePage(v, "pq.", "query.")
	if err != nil {
		return nil, err
	}
	where, args, err := QuerySchema.Where(page.Query, s.dialect, 1)
	if err != nil {
		return nil, err
	}
	order, err := QuerySchema.OrderBy(page, s.dialect, "Id")
	if err != nil {
		return nil, err
	}
	limit, offset := page.LimitOffset()
	recs, err := s.store.Certificates(ctx, ListQuery{
		Where: where, Args: args, OrderBy: order, Limit: limit, Offset: offset,
		IncludeRevoked: o.IncludeRevoked, IncludeExpired: o.IncludeExpired, Now: s.now(),
	})
	var qe *query.Error
	if errors.As(err, &qe) {
		return nil, err
	}
	if err != nil {
		return nil, errs.Wrap(err, fmt.Sprintf("listing certificates"))
	}
	return recs, nil
}
