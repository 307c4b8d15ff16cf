package enroll

import (
	"context"
	"time"

	"github.com/certdock/certdock/internal/auth"
)

// Delivery is the certificate store delivery hook of the enrollment flow;
// internal/delivery implements it (delivery.EnrollmentHook) and the server
// wires it as Options.Delivery. Without it, STORE and REPLACE and v2 Stores
// are refused.
type Delivery interface {
	// PlanDelivery runs while the request is checked, before anything is
	// issued: it validates the v2 Stores (400 naming Stores[i].StoreId for a
	// malformed, repeated or unknown store, 403 without the schedule
	// permission) and, when installIntoExisting and renewalID are set,
	// appends the stores holding the renewed certificate (FromRenewal).
	PlanDelivery(ctx context.Context, p *auth.Principal, stores []StoreTarget, renewalID int64, installIntoExisting bool) ([]StoreTarget, error)
	// RecordDelivery runs inside the recording transaction tx after the
	// certificate and its (sealed) key are written: it records why the key
	// is kept and the hash of the enrollment password, and creates the add
	// jobs for the targets, so they commit or roll back with the enrollment.
	RecordDelivery(ctx context.Context, tx Store, p *auth.Principal, d DeliveryRecord) (DeliveryResult, error)
	// HashPassword hashes the enrollment password for RecordDelivery. It is
	// slow on purpose (argon2id), so the flow calls it before the recording
	// transaction rather than inside it.
	HashPassword(password string) (string, error)
}

// DeliveryRecord is what RecordDelivery is given.
type DeliveryRecord struct {
	CertificateID      int64
	RequestID          int64
	Format             Format
	Password           string // the enrollment password (given or generated)
	PasswordHash       string // HashPassword(Password), computed before the transaction
	KeyForDeliveryOnly bool   // the template would not have retained the key
	Targets            []StoreTarget
	JobTime            *time.Time
}

// DeliveryResult is what the enrollment answers about delivery.
type DeliveryResult struct {
	SuccessfulStores  []string
	InvalidForRenewal []string
}

// deliveryFormat reports a format whose key is kept for a later delivery
// and that answers no blob.
func deliveryFormat(f Format) bool { return f == FormatSTORE || f == FormatREPLACE }
