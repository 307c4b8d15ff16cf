package revocation

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/policy"
)

// MaxBulkMetadata caps how many certificates one PUT /Certificates/Metadata/All
// may change: the update is one transaction.
const MaxBulkMetadata = 10000

// UpdateMetadata sets a certificate's metadata fields (PUT
// /Certificates/Metadata). Every given field must exist and its value pass
// the field's type, regular expression and options, as at enrollment; an
// empty value clears the field; fields not given keep their values.
func (s *Service) UpdateMetadata(ctx context.Context, p *auth.Principal, id int64, given map[string]string) error {
	if id <= 0 {
		return errs.Field("Id", "a positive certificate id is required")
	}
	if given == nil {
		return errs.Field("Metadata", "is required")
	}
	fields, err := s.fieldsByName(ctx)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(given))
	for k := range given {
		names = append(names, k)
	}
	sort.Strings(names)
	m := map[string]string{}
	for _, k := range names {
		f, ok := fields[strings.ToLower(k)]
		if !ok {
			return errs.Field("Metadata."+k, "there is no metadata field named %q", k)
		}
		v := given[k]
		if v != "" {
			if err := policy.CheckMetadataValue(f, "Metadata."+f.Name, v); err != nil {
				return err
			}
		}
		m[f.Name] = v
	}
	now := s.now().Truncate(time.Second)
	return s.o.InTx(ctx, func(st Store) error {
		rec, err := st.Certificate(ctx, id)
		if err != nil {
			if s.o.IsNotFound(err) {
				return fieldErr(errs.NotFound, errs.CodeNotFound, "Id", "certificate %d was not found", id)
			}
			return errs.Wrap(err, "reading certificate")
		}
		return s.applyMetadata(ctx, st, p, rec, m, now)
	})
}

// applyMetadata merges m into the certificate's metadata and records what
// changed.
func (s *Service) applyMetadata(ctx context.Context, st Store, p *auth.Principal, rec certificate.Record, m map[string]string, now time.Time) error {
	var changed []string
	for _, k := range sortedKeys(m) {
		if rec.Metadata[k] != m[k] {
			changed = append(changed, k)
		}
	}
	if err := st.MergeMetadata(ctx, rec.ID, m); err != nil {
		return errs.Wrap(err, "updating metadata")
	}
	msg := "metadata unchanged"
	if len(changed) > 0 {
		msg = "metadata changed: " + strings.Join(changed, ", ")
	}
	if err := st.AddHistory(ctx, certificate.HistoryEntry{CertID: rec.ID, At: now, Operation: certificate.OpMetadata, Actor: p.AccountName, Message: msg}); err != nil {
		return errs.Wrap(err, "recording history")
	}
	return errs.Wrap(st.Audit(ctx, now, p.AccountName, "certificate.metadata", fmt.Sprintf("certificate %d", rec.ID), msg), "recording audit entry")
}

// MetadataItem is one field of PUT /Certificates/Metadata/All.
type MetadataItem struct {
	Name  string
	Value string
	// Overwrite replaces a value the certificate already has; otherwise
	// only certificates without a value get this one.
	Overwrite bool
}

// MetadataAllRequest is PUT /Certificates/Metadata/All: the fields to set
// on the listed certificates, or on those the query selects.
type MetadataAllRequest struct {
	Query          string
	CertificateIDs []int64
	Items          []MetadataItem
}

// UpdateMetadataAll applies the items to every selected certificate in one
// transaction. CertificateIds wins over Query when both are given; one of
// them is required, so that an empty request cannot touch the whole
// inventory. Revoked and expired certificates are included.
func (s *Service) UpdateMetadataAll(ctx context.Context, p *auth.Principal, req MetadataAllRequest) (int, error) {
	if len(req.Items) == 0 {
		return 0, errs.Field("Metadata", "at least one field is required")
	}
	fields, err := s.fieldsByName(ctx)
	if err != nil {
		return 0, err
	}
	seen := map[string]int{}
	items := make([]MetadataItem, len(req.Items))
	for i, it := range req.Items {
		base := fmt.Sprintf("Metadata[%d]", i)
		if strings.TrimSpace(it.Name) == "" {
			return 0, errs.Field(base+".MetadataName", "is required")
		}
		f, ok := fields[strings.ToLower(it.Name)]
		if !ok {
			return 0, errs.Field(base+".MetadataName", "there is no metadata field named %q", it.Name)
		}
		if j, dup := seen[f.Name]; dup {
			return 0, errs.Field(base+".MetadataName", "%s is already set by Metadata[%d]", f.Name, j)
		}
		seen[f.Name] = i
		if it.Value != "" {
			if err := policy.CheckMetadataValue(f, base+".Value", it.Value); err != nil {
				return 0, err
			}
		}
		it.Name = f.Name
		items[i] = it
	}
	var where string
	var args []any
	if len(req.CertificateIDs) == 0 {
		if strings.TrimSpace(req.Query) == "" {
			return 0, errs.Field("Query", "either Query or CertificateIds is required")
		}
		if where, args, err = certificate.QuerySchema.Where(req.Query, s.o.Dialect, 1); err != nil {
			return 0, err
		}
	}
	for i, id := range req.CertificateIDs {
		if id <= 0 {
			return 0, errs.Field(fmt.Sprintf("CertificateIds[%d]", i), "%d is not a positive certificate id", id)
		}
	}
	now := s.now().Truncate(time.Second)
	n := 0
	err = s.o.InTx(ctx, func(st Store) error {
		n = 0
		var recs []certificate.Record
		if len(req.CertificateIDs) > 0 {
			for i, id := range req.CertificateIDs {
				rec, err := st.Certificate(ctx, id)
				if err != nil {
					if s.o.IsNotFound(err) {
						return fieldErr(errs.NotFound, errs.CodeNotFound, fmt.Sprintf("CertificateIds[%d]", i), "certificate %d was not found", id)
					}
					return errs.Wrap(err, "reading certificate")
				}
				recs = append(recs, rec)
			}
		} else {
			var err error
			recs, err = st.Certificates(ctx, certificate.ListQuery{Where: where, Args: args, Limit: MaxBulkMetadata + 1,
				IncludeRevoked: true, IncludeExpired: true, Now: now})
			if err != nil {
				return errs.Wrap(err, "selecting certificates")
			}
			if len(recs) > MaxBulkMetadata {
				return errs.Field("Query", "selects more than %d certificates; narrow it", MaxBulkMetadata)
			}
		}
		done := map[int64]bool{}
		for _, rec := range recs {
			if done[rec.ID] {
				continue
			}
			done[rec.ID] = true
			m := map[string]string{}
			for _, it := range items {
				if !it.Overwrite && rec.Metadata[it.Name] != "" {
					continue
				}
				m[it.Name] = it.Value
			}
			if len(m) == 0 {
				continue
			}
			if err := s.applyMetadata(ctx, st, p, rec, m, now); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

func (s *Service) fieldsByName(ctx context.Context) (map[string]policy.MetadataField, error) {
	fs, err := s.o.Store.MetadataFields(ctx)
	if err != nil {
		return nil, errs.Wrap(err, "reading metadata fields")
	}
	out := make(map[string]policy.MetadataField, len(fs))
	for _, f := range fs {
		out[strings.ToLower(f.Name)] = f
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// History lists what happened to a certificate, oldest first.
func (s *Service) History(ctx context.Context, id int64) ([]certificate.HistoryEntry, error) {
	if _, err := s.o.Store.Certificate(ctx, id); err != nil {
		if s.o.IsNotFound(err) {
			return nil, errs.NotFoundf("certificate %d was not found", id)
		}
		return nil, errs.Wrap(err, "reading certificate")
	}
	h, err := s.o.Store.History(ctx, id)
	return h, errs.Wrap(err, "reading history")
}
