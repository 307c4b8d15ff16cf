// Package stores is the certificate store catalogue: store types (three
// built in, more user-defined), store containers, certificate stores (with
// their store password sealed by the master key), the agents (orchestrators)
// that serve them, and the latest inventory each store reported, which is
// where a certificate's locations come from.
//
// It validates every change against the store type, writes through the Repo
// interface (sqlstore.Q implements it) and decides container-scoped access
// (CanRead, CanModify, CanSchedule). The job queue is package jobs.
package stores

import (
	"context"
	"time"
)

// Built-in store type ids.
const (
	TypePEM    = 100
	TypePKCS12 = 101
	TypeJKS    = 102
)

// Agent statuses (Keyfactor's AgentStatusType).
const (
	AgentNew         = 1
	AgentApproved    = 2
	AgentDisapproved = 3
)

// Store is one certificate store on a client machine, served by one agent.
type Store struct {
	ID                    string // uuid
	ContainerID           *int64
	ContainerName         string // read only
	DisplayName           string
	ClientMachine         string
	StorePath             string
	StoreType             int
	Approved              bool
	CreateIfMissing       bool
	Properties            string // JSON object text
	AgentID               string
	InventorySchedule     string // CAgent schedule string: "", "I_60", "D_13:30", "O_2026-01-02T03:04:05Z"
	HasPassword           bool
	SetNewPasswordAllowed bool
	CreatedAt             time.Time
	NextInventoryAt       *time.Time
}

// StoreInput is a create or update request after decoding. Password nil
// keeps the stored password on update (no password on create); a non-nil
// empty string clears it.
type StoreInput struct {
	ID                    string // update only
	ContainerID           *int64
	DisplayName           string
	ClientMachine         string
	StorePath             string
	StoreType             int
	Approved              *bool
	CreateIfMissing       bool
	Properties            string
	AgentID               string
	InventorySchedule     string
	SetNewPasswordAllowed bool
	Password              *string
}

// StoreRow is a store as stored, with its sealed password.
type StoreRow struct {
	Store
	PasswordSealed []byte
}

// Container groups stores; permissions may be granted on one container.
type Container struct {
	ID                 int64
	Name               string
	OverwriteSchedules bool
	Schedule           string // CAgent schedule string
	StoreType          int
	StoreCount         int // read only
}

// Agent is an orchestrator as the management API sees it.
type Agent struct {
	AgentID          string
	ClientMachine    string
	Username         string
	Platform         int
	Status           int
	Version          string
	LastSeen         *time.Time
	Capabilities     []string
	Thumbprint       string
	LastErrorCode    int64
	LastErrorMessage string
	CreatedAt        time.Time
}

// RegistrationToken is a one-time agent bootstrap token as stored (hash only).
type RegistrationToken struct {
	ID          int64
	TokenHash   string
	Description string
	CreatedBy   string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	UsedAt      *time.Time
	UsedBy      string
}

// Location is one place a known certificate was found by inventory.
type Location struct {
	CertificateID int64
	StoreID       string
	StoreMachine  string
	StorePath     string
	StoreType     int
	Alias         string
	ChainLevel    int
	// ContainerID is the store's container (nil: none), for permission
	// checks without reading the store again. Filled by LocationsOfMany.
	ContainerID *int64
}

// InventoryItem is one entry of a store as an agent reported it.
type InventoryItem struct {
	Alias           string
	PrivateKeyEntry bool
	Certificates    [][]byte // DER, leaf first
}

// InventoryEntry is a stored inventory entry with its certificates.
type InventoryEntry struct {
	ID              int64
	StoreID         string
	Alias           string
	PrivateKeyEntry bool
	ReportedAt      time.Time
	Certificates    []InventoryCert
}

// InventoryCert is one certificate of an inventory entry.
type InventoryCert struct {
	ChainLevel    int
	Thumbprint    string
	CertificateID *int64
	DER           []byte
}

// ListQuery is a compiled list request for the storage layer.
type ListQuery struct {
	Where         string // SQL over the list's query schema, dialect placeholders
	Args          []any
	OrderBy       string
	Limit, Offset int
	// Containers restricts a store list to these containers when non-nil
	// (a caller holding only container-scoped read permissions).
	Containers []int64
}

// Repo is the storage the service needs; sqlstore.Q implements it.
type Repo interface {
	StoreTypes(ctx context.Context) ([]StoreType, error)
	StoreTypeByID(ctx context.Context, id int) (StoreType, error)
	StoreTypeByShortName(ctx context.Context, shortName string) (StoreType, error)
	InsertStoreType(ctx context.Context, t StoreType) (int, error)
	UpdateStoreType(ctx context.Context, t StoreType) error
	DeleteStoreType(ctx context.Context, id int) error
	StoreTypeInUse(ctx context.Context, id int) (bool, error)

	Containers(ctx context.Context, l ListQuery) ([]Container, error)
	Container(ctx context.Context, id int64) (Container, error)
	InsertContainer(ctx context.Context, c Container) (int64, error)
	UpdateContainer(ctx context.Context, c Container) error
	DeleteContainer(ctx context.Context, id int64) error
	// SetContainerSchedule gives every store of the container the schedule and next run.
	SetContainerSchedule(ctx context.Context, id int64, schedule string, next *time.Time) error

	Stores(ctx context.Context, l ListQuery) ([]Store, error)
	StoreRow(ctx context.Context, id string) (StoreRow, error)
	InsertStore(ctx context.Context, r StoreRow) error
	UpdateStore(ctx context.Context, r StoreRow) error
	DeleteStore(ctx context.Context, id string) error

	Agents(ctx context.Context, l ListQuery) ([]Agent, error)
	Agent(ctx context.Context, id string) (Agent, error)
	AgentByThumbprint(ctx context.Context, thumbprint string) (Agent, error)
	InsertAgent(ctx context.Context, a Agent) error
	UpdateAgent(ctx context.Context, a Agent) error
	SetAgentStatus(ctx context.Context, id string, status int) error

	InsertRegistrationToken(ctx context.Context, t RegistrationToken) (int64, error)
	UseRegistrationToken(ctx context.Context, hash, usedBy string, now time.Time) (bool, error)

	ReplaceInventory(ctx context.Context, storeID string, items []InventoryItem, thumbprints [][]string, now time.Time) error
	Inventory(ctx context.Context, storeID string, limit, offset int) ([]InventoryEntry, error)
	LocationsOf(ctx context.Context, certID int64) ([]Location, error)
	// LocationsOfMany is LocationsOf for several certificates in one query,
	// ordered by certificate, then as LocationsOf.
	LocationsOfMany(ctx context.Context, certIDs []int64) ([]Location, error)

	Audit(ctx context.Context, at time.Time, actor, action, target, details string) error
}
