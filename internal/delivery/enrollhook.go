package delivery

import (
	"context"
	"fmt"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/enroll"
	"github.com/certdock/certdock/internal/errs"
)

// EnrollmentHook adapts the service to the enrollment flow's Delivery hook
// (enroll.Options.Delivery).
type EnrollmentHook struct{ S *Service }

var _ enroll.Delivery = EnrollmentHook{}

// PlanDelivery checks the v2 Stores and adds the renewed certificate's stores.
func (h EnrollmentHook) PlanDelivery(ctx context.Context, p *auth.Principal, stores []enroll.StoreTarget, renewalID int64, installIntoExisting bool) ([]enroll.StoreTarget, error) {
	ts := make([]Target, len(stores))
	for i, t := range stores {
		ts[i] = Target{StoreID: t.StoreID, Alias: t.Alias, Overwrite: t.Overwrite, Properties: t.Properties}
	}
	ts, err := h.S.CheckTargets(ctx, p, ts)
	if err != nil {
		return nil, err
	}
	if installIntoExisting && renewalID != 0 {
		rs, err := h.S.RenewalTargets(ctx, renewalID)
		if err != nil {
			return nil, err
		}
		ts = MergeTargets(ts, rs)
	}
	out := make([]enroll.StoreTarget, len(ts))
	for i, t := range ts {
		out[i] = enroll.StoreTarget{StoreID: t.StoreID, Alias: t.Alias, Overwrite: t.Overwrite, Properties: t.Properties, FromRenewal: t.FromRenewal}
	}
	return out, nil
}

// HashPassword hashes an enrollment password the way ScheduleForEnrollment
// records it; the enrollment flow calls it before its transaction.
func (h EnrollmentHook) HashPassword(password string) (string, error) {
	return h.S.o.HashPassword(password)
}

// RecordDelivery runs ScheduleForEnrollment in the enrollment's transaction.
// tx is the enrollment's store handle; in certdock it is a sqlstore.Q inside
// WithTx, which also implements Tx.
func (h EnrollmentHook) RecordDelivery(ctx context.Context, tx enroll.Store, p *auth.Principal, d enroll.DeliveryRecord) (enroll.DeliveryResult, error) {
	dtx, ok := tx.(Tx)
	if !ok {
		return enroll.DeliveryResult{}, errs.Wrap(fmt.Errorf("%T does not implement delivery.Tx", tx), "delivery wiring")
	}
	ts := make([]Target, len(d.Targets))
	for i, t := range d.Targets {
		ts[i] = Target{StoreID: t.StoreID, Alias: t.Alias, Overwrite: t.Overwrite, Properties: t.Properties, FromRenewal: t.FromRenewal, PrivateKey: true}
	}
	r, err := h.S.ScheduleForEnrollment(ctx, dtx, p, EnrollmentDelivery{CertificateID: d.CertificateID, RequestID: d.RequestID,
		Format: string(d.Format), Password: d.Password, PasswordHash: d.PasswordHash, KeyForDeliveryOnly: d.KeyForDeliveryOnly, Targets: ts, JobTime: d.JobTime})
	return enroll.DeliveryResult{SuccessfulStores: r.SuccessfulStores, InvalidForRenewal: r.InvalidForRenewal}, err
}
