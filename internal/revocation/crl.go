package revocation

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/ca/embedded"
)

// ErrUnknownCA is returned for a CA this service does not publish for.
var ErrUnknownCA = errors.New("revocation: unknown CA")

// PublishCRL signs and stores a new CRL for the CA: the next CRL number,
// thisUpdate now, every revoked certificate the CA issued that has not
// expired. Numbering and the stored CRL change in one transaction.
func (s *Service) PublishCRL(ctx context.Context, caID int64) (CRL, error) {
	c, ok := s.cas[caID]
	if !ok {
		return CRL{}, ErrUnknownCA
	}
	s.mu.Lock()
	delete(s.dirty, caID) // revocations after this point mark it again
	s.mu.Unlock()
	var out CRL
	err := s.o.InTx(ctx, func(st Store) error {
		n, err := st.NextCRLNumber(ctx, caID)
		if err != nil {
			return fmt.Errorf("CRL number: %w", err)
		}
		now := s.now().Truncate(time.Second)
		revoked, err := st.RevokedCertificates(ctx, caID, now)
		if err != nil {
			return fmt.Errorf("listing revoked certificates: %w", err)
		}
		entries := make([]embedded.CRLEntry, 0, len(revoked))
		for _, r := range revoked {
			serial, ok := parseSerialHex(r.SerialHex)
			if !ok {
				return fmt.Errorf("stored serial %q is not hex", r.SerialHex)
			}
			entries = append(entries, embedded.CRLEntry{Serial: serial, RevokedAt: r.At, Reason: crlReason(r.Reason)})
		}
		out = CRL{Number: n, ThisUpdate: now, NextUpdate: now.Add(s.o.CRLValidity)}
		if out.DER, err = c.Signer.SignCRL(big.NewInt(n), entries, out.ThisUpdate, out.NextUpdate); err != nil {
			return err
		}
		return st.SaveCRL(ctx, caID, out)
	})
	if err != nil {
		s.markDirty(caID)
		return CRL{}, fmt.Errorf("publishing the CRL of %s: %w", c.LogicalName, err)
	}
	return out, nil
}

// CurrentCRL returns the CA's stored CRL, publishing a new one first when
// there is none, a revocation is not on it yet, or half its validity has
// passed.
func (s *Service) CurrentCRL(ctx context.Context, caID int64) (CRL, error) {
	c, _, err := s.freshCRL(ctx, caID)
	return c, err
}

// freshCRL is CurrentCRL, also saying whether it published. Publication
// on demand is serialised so that the scheduler and concurrent downloads
// of a stale CRL sign one new CRL, not one each.
func (s *Service) freshCRL(ctx context.Context, caID int64) (CRL, bool, error) {
	if _, ok := s.cas[caID]; !ok {
		return CRL{}, false, ErrUnknownCA
	}
	if c, ok := s.storedIfFresh(ctx, caID); ok {
		return c, false, nil
	}
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	if c, ok := s.storedIfFresh(ctx, caID); ok {
		return c, false, nil
	}
	c, err := s.PublishCRL(ctx, caID)
	return c, err == nil, err
}

// storedIfFresh returns the stored CRL when it needs no re-signing: it
// exists, no revocation waits for it, and it is not stale (needsPublish).
// The CRL row is read once.
func (s *Service) storedIfFresh(ctx context.Context, caID int64) (CRL, bool) {
	s.mu.Lock()
	dirty := s.dirty[caID]
	s.mu.Unlock()
	if dirty {
		return CRL{}, false
	}
	c, err := s.o.Store.CRL(ctx, caID)
	if err != nil || s.needsPublish(ctx, caID, c) {
		return CRL{}, false // missing or unreadable: publish a new one
	}
	return c, true
}

// needsPublish reports whether the stored CRL c lags a revocation or is
// past half its validity.
func (s *Service) needsPublish(ctx context.Context, caID int64, c CRL) bool {
	refresh := c.ThisUpdate.Add(c.NextUpdate.Sub(c.ThisUpdate) / 2)
	if !s.now().Before(refresh) {
		return true
	}
	s.mu.Lock()
	checked := s.checked[caID]
	s.mu.Unlock()
	if checked {
		return false
	}
	// First look since the process started: the stored CRL may lag a
	// revocation committed by a process that died before re-signing it.
	lags, err := s.crlLags(ctx, caID, c)
	if err != nil {
		return true
	}
	s.mu.Lock()
	s.checked[caID] = true
	if lags {
		s.dirty[caID] = true // until PublishCRL re-signs it
	}
	s.mu.Unlock()
	return lags
}

// crlLags reports whether the stored CRL c lists another set of serials
// than the certificates the database has revoked (and not expired).
func (s *Service) crlLags(ctx context.Context, caID int64, c CRL) (bool, error) {
	rl, err := x509.ParseRevocationList(c.DER)
	if err != nil {
		return true, nil
	}
	revoked, err := s.o.Store.RevokedCertificates(ctx, caID, s.now().Truncate(time.Second))
	if err != nil {
		return false, err
	}
	listed := make(map[string]bool, len(rl.RevokedCertificateEntries))
	for _, e := range rl.RevokedCertificateEntries {
		listed[e.SerialNumber.String()] = true
	}
	if len(listed) != len(revoked) {
		return true, nil
	}
	for _, r := range revoked {
		n, ok := parseSerialHex(r.SerialHex)
		if !ok || !listed[n.String()] {
			return true, nil
		}
	}
	return false, nil
}

func (s *Service) markDirty(caID int64) {
	s.mu.Lock()
	s.dirty[caID] = true
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// RefreshCRLs publishes a new CRL for every CA that needs one (see
// CurrentCRL). The scheduler calls it; errors are logged and retried on
// the next round.
func (s *Service) RefreshCRLs(ctx context.Context) {
	for _, c := range s.CAs() {
		if ctx.Err() != nil {
			return
		}
		crl, published, err := s.freshCRL(ctx, c.ID)
		if err != nil {
			s.o.Logger.Error("CRL publication failed", "ca", c.LogicalName, "err", err)
			continue
		}
		if published {
			s.o.Logger.Info("CRL published", "ca", c.LogicalName, "number", crl.Number, "next_update", crl.NextUpdate)
		}
	}
}

// RunScheduler refreshes CRLs every interval, and at once after a
// revocation asks for it, until ctx ends.
func (s *Service) RunScheduler(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	s.RefreshCRLs(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		s.RefreshCRLs(ctx)
	}
}

// crlReason maps a stored Keyfactor revocation code to an RFC 5280
// CRLReason: 0-6 are the same; -1 and 999 (Keyfactor's "unknown") become
// unspecified.
func crlReason(code int) int {
	if code >= 0 && code <= 6 {
		return code
	}
	return 0
}

// parseSerialHex reads a serial as the inventory stores it (upper-case
// hex, "-" for the negative serials some foreign CAs issue).
func parseSerialHex(h string) (*big.Int, bool) {
	neg := strings.HasPrefix(h, "-")
	n, ok := new(big.Int).SetString(strings.TrimPrefix(h, "-"), 16)
	if !ok {
		return nil, false
	}
	if neg {
		n.Neg(n)
	}
	return n, true
}
