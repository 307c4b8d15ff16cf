package orchestrator

import (
	"strings"

	"github.com/certdock/certdock/internal/stores"
)

// The JSON bodies of the agent protocol (API-NOTES §7), as Keyfactor's
// CAgent sends and reads them. Go's encoding/json matches member names
// case-insensitively on decode, as the agent and the vendor's server do.

// Result.Status values.
const (
	StatusSuccess = 1
	StatusWarning = 2
	StatusError   = 3
)

// Result is in every response.
type Result struct {
	Status int
	Error  *ResultError `json:",omitempty"`
}

// ResultError says why a call failed. CodeString is the hex code without
// "0x" as CAgent compares it ("A0100007").
type ResultError struct {
	Code       int64
	CodeString string
	Message    string
}

// Error codes in Result.Error.CodeString (docs/agent-protocol.md).
const (
	// CodeCertExpired and CodeCertInvalid make CAgent enroll a new
	// client certificate (it re-registers with a CSR).
	CodeCertExpired = "A0100007"
	CodeCertInvalid = "A0100008"
	// certdock's own.
	CodeCertRevoked     = "A0100010"
	CodeDisapproved     = "A0100011"
	CodeUnauthenticated = "A0100012"
	CodeBadRequest      = "A0100013"
	CodeSession         = "A0100014"
	CodeJob             = "A0100015"
	CodeInternal        = "A0100001"
)

// RegisterRequest is POST /Session/Register.
type RegisterRequest struct {
	AgentPlatform    int
	AgentVersion     uint64
	TenantId         *string
	ClientMachine    string
	CSR              *string
	AgentId          string
	Capabilities     []string
	ClientParameters map[string]string
	// PreviousSessionToken (certdock extension) is the session this
	// registration replaces: the token the same agent process, or its
	// predecessor on the same data directory, last held. That session ends
	// and the jobs it held are handed back at once; holds of any other
	// session of the agent stay until they are completed or their lease ends.
	PreviousSessionToken string `json:",omitempty"`
}

// SessionJob is one job handed out with a session or heartbeat.
type SessionJob struct {
	JobTypeId             string
	JobId                 string
	ConfigurationEndpoint string
	CompletionEndpoint    string
	Cron                  string
	Schedule              string
	Priority              int
}

// Session is the session part of a registration response.
type Session struct {
	Token             string
	AgentId           string
	HeartbeatInterval int // minutes
	Certificate       string
	ClientMachine     string
	ClientParameters  map[string]string
	Jobs              []SessionJob
}

// RegisterResponse answers POST /Session/Register.
type RegisterResponse struct {
	Result  Result
	Session Session
}

// HeartbeatRequest is POST /Session/Heartbeat.
type HeartbeatRequest struct {
	SessionToken  string
	TenantId      *string
	ClientMachine string
	AgentPlatform int
}

// HeartbeatResponse answers a heartbeat. Jobs is a certdock extension: the
// jobs due now, so an agent need not register again to get new work.
type HeartbeatResponse struct {
	Result            Result
	HeartbeatInterval int
	SessionValid      bool
	Jobs              []SessionJob
}

// JobRequest asks for a job's configuration.
type JobRequest struct {
	SessionToken string
	JobId        string
}

// ManagementJob is a management job's configuration.
type ManagementJob struct {
	OperationType   int // 2 add, 3 remove
	ClientMachine   string
	StorePath       string
	StorePassword   string
	StoreType       int
	Category        int
	Alias           string
	PrivateKeyEntry bool
	EntryPassword   string
	Thumbprint      string
	EntryContents   string // add: base64 PKCS#12 (with PfxPassword) or base64 DER certificate
	PfxPassword     string
	Overwrite       bool
	Properties      string // JSON object text
	CreateIfMissing bool   // certdock extension
}

// ManagementConfig answers a management job's configuration request.
type ManagementConfig struct {
	AuditId      uint64
	JobCancelled bool
	Result       Result
	Job          ManagementJob
}

// InventoryEntry is one entry certdock last saw in a store.
type InventoryEntry struct {
	Alias           string
	PrivateKeyEntry bool
	Thumbprints     []string
}

// InventoryJob is an inventory job's configuration.
type InventoryJob struct {
	ClientMachine   string
	StorePath       string
	StorePassword   string
	StoreType       int
	Category        int
	Properties      string
	CreateIfMissing bool
	Inventory       []InventoryEntry
}

// InventoryConfig answers an inventory job's configuration request.
type InventoryConfig struct {
	AuditId           uint64
	JobCancelled      bool
	Result            Result
	InventoryEndpoint string
	Job               InventoryJob
}

// InventoryItem is one store entry an agent reports.
type InventoryItem struct {
	Alias           string
	PrivateKeyEntry bool
	UseChainLevel   bool
	ItemStatus      int
	Certificates    []string // base64 DER, leaf first
}

// InventoryRequest is the POST to an InventoryEndpoint.
type InventoryRequest struct {
	SessionToken string
	JobId        string
	Inventory    []InventoryItem
}

// CompleteRequest is the POST to a CompletionEndpoint.
type CompleteRequest struct {
	SessionToken string
	JobId        string
	Status       int // JobCompleteStatus: 2 success, 3 warning, 4 error
	AuditId      uint64
	Message      string
	// Impossible is a certdock extension: the agent cannot ever do this job
	// (an unsupported store type); the job is not retried.
	Impossible bool
}

// CompleteResponse answers a completion; InventoryJob names the inventory
// job queued after a management job.
type CompleteResponse struct {
	Result       Result
	InventoryJob string `json:",omitempty"`
}

// ResultResponse is a bare { Result }.
type ResultResponse struct {
	Result Result
}

// JobKind is what a JobTypeId stands for.
type JobKind struct {
	StoreType  int
	ShortName  string
	Management bool // false: inventory
}

// jobTypes maps the built-in store types' job type GUIDs (stores.Builtin's
// InventoryJobType and ManagementJobType) to their kinds.
var jobTypes = func() map[string]JobKind {
	m := map[string]JobKind{}
	for _, id := range stores.BuiltinIDs() {
		t, _ := stores.Builtin(id)
		m[strings.ToLower(t.InventoryJobType)] = JobKind{StoreType: id, ShortName: t.Capability}
		m[strings.ToLower(t.ManagementJobType)] = JobKind{StoreType: id, ShortName: t.Capability, Management: true}
	}
	return m
}()

// JobTypeOf returns the kind of a JobTypeId (any case).
func JobTypeOf(id string) (JobKind, bool) {
	k, ok := jobTypes[strings.ToLower(id)]
	return k, ok
}

// JobTypeID returns the GUID of a built-in store type's inventory or
// management job.
func JobTypeID(storeType int, management bool) (string, bool) {
	t, ok := stores.Builtin(storeType)
	if !ok {
		return "", false
	}
	if management {
		return t.ManagementJobType, true
	}
	return t.InventoryJobType, true
}

// Capability is the capability an agent advertises for a job kind.
func (k JobKind) Capability() string {
	if k.Management {
		return "CertStores." + k.ShortName + ".Management"
	}
	return "CertStores." + k.ShortName + ".Inventory"
}

// Paths below /KeyfactorAgents. Endpoints handed to agents carry the
// "KeyfactorAgents/" prefix, which agents strip.
const (
	Prefix                = "/KeyfactorAgents"
	PathRegister          = "/Session/Register"
	PathHeartbeat         = "/Session/Heartbeat"
	PathManagementConfig  = "/Jobs/Management/Configuration"
	PathManagementDone    = "/Jobs/Management/Complete"
	PathInventoryConfig   = "/Jobs/Inventory/Configuration"
	PathInventoryDone     = "/Jobs/Inventory/Complete"
	PathInventoryEndpoint = "/Jobs/Inventory/Update"
)
