package enroll

import (
	"context"
	"slices"
	"sort"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/policy"
)

// ContextTemplate is a template the caller may enroll against, with the
// patterns of it the caller may use and the CAs that offer it.
type ContextTemplate struct {
	Template policy.Template
	Patterns []policy.Pattern
	CAs      []policy.CA
}

// EnrollmentContext is GET /Enrollment/{PFX,CSR}/Context/My.
type EnrollmentContext struct {
	Templates     []ContextTemplate
	StandaloneCAs []policy.CA
}

// Context lists what the caller may use for enrollments of kind (KindPFX or
// KindCSR), by the rules check applies: a pattern is listed when the
// caller holds one of its AssociatedRoles (or it has none) and it allows
// the kind; a template when it has such a pattern and an issuing CA that
// offers it and is available (a pattern with Restrict CAs narrows the CAs
// listed for it, the template lists their union); standalone issuing CAs
// when they allow the kind.
func (s *Service) Context(ctx context.Context, p *auth.Principal, kind string) (*EnrollmentContext, error) {
	st := s.o.Store
	tpls, err := st.Templates(ctx)
	if err != nil {
		return nil, errs.Wrap(err, "reading templates")
	}
	pats, err := st.Patterns(ctx)
	if err != nil {
		return nil, errs.Wrap(err, "reading patterns")
	}
	cas, err := st.CAIDs(ctx)
	if err != nil {
		return nil, errs.Wrap(err, "reading CAs")
	}
	usable := func(id int64) (policy.CA, bool) {
		c, ok := cas[id]
		if !ok || c.Role != "issuing" {
			return c, false
		}
		_, ok = s.o.Connectors(id)
		return c, ok
	}
	out := &EnrollmentContext{Templates: []ContextTemplate{}, StandaloneCAs: []policy.CA{}}
	for _, t := range tpls {
		t := t
		ct := ContextTemplate{Template: t}
		caSet := map[int64]policy.CA{}
		for _, pat := range pats {
			pat := pat
			if pat.TemplateID != t.ID || !PatternAllows(&pat, p) || !KindAllowed(&t, &pat, kind) {
				continue
			}
			n := 0
			for _, id := range t.CAIDs {
				if pat.RestrictCAs && !slices.Contains(pat.CAIDs, id) {
					continue
				}
				if c, ok := usable(id); ok {
					caSet[id] = c
					n++
				}
			}
			if n > 0 {
				ct.Patterns = append(ct.Patterns, pat)
			}
		}
		if len(ct.Patterns) == 0 {
			continue
		}
		for _, c := range caSet {
			ct.CAs = append(ct.CAs, c)
		}
		sort.Slice(ct.CAs, func(i, j int) bool { return ct.CAs[i].ID < ct.CAs[j].ID })
		out.Templates = append(out.Templates, ct)
	}
	ids := make([]int64, 0, len(cas))
	for id := range cas {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		c, ok := usable(id)
		if !ok || !c.Standalone {
			continue
		}
		bit := policy.EnrollPFX
		if kind == KindCSR {
			bit = policy.EnrollCSR
		}
		if c.AllowedEnrollmentTypes != 0 && c.AllowedEnrollmentTypes&bit == 0 {
			continue
		}
		out.StandaloneCAs = append(out.StandaloneCAs, c)
	}
	return out, nil
}
