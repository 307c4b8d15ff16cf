package stores

import "github.com/certdock/certdock/internal/query"

// StoreSchema lists what GET /CertificateStores can filter and sort on.
// Columns refer to the storage layer's store select: s = stores,
// c = store_containers.
var StoreSchema = query.NewSchema(
	query.Field{Name: "Id", Column: "s.id", Kind: query.String, CaseInsensitive: true, Key: true},
	query.Field{Name: "ContainerId", Column: "s.container_id", Kind: query.Int},
	query.Field{Name: "ContainerName", Column: "c.name", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "DisplayName", Column: "s.display_name", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "ClientMachine", Column: "s.client_machine", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "StorePath", Column: "s.store_path", Kind: query.String},
	query.Field{Name: "CertStoreType", Column: "s.store_type", Kind: query.Int},
	query.Field{Name: "AgentId", Column: "s.agent_id", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "Approved", Column: "s.approved", Kind: query.Bool},
	query.Field{Name: "CreateIfMissing", Column: "s.create_if_missing", Kind: query.Bool},
)

// ContainerSchema lists what GET /CertificateStoreContainers can filter on.
var ContainerSchema = query.NewSchema(
	query.Field{Name: "Id", Column: "c.id", Kind: query.Int, Key: true},
	query.Field{Name: "Name", Column: "c.name", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "CertStoreType", Column: "c.store_type", Kind: query.Int},
)

// AgentSchema lists what GET /Agents can filter on.
var AgentSchema = query.NewSchema(
	query.Field{Name: "AgentId", Column: "a.agent_id", Kind: query.String, CaseInsensitive: true, Key: true},
	query.Field{Name: "ClientMachine", Column: "a.client_machine", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "Username", Column: "a.username", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "Status", Column: "a.status", Kind: query.Int},
	query.Field{Name: "Version", Column: "a.version", Kind: query.String},
	query.Field{Name: "LastSeen", Column: "a.last_seen", Kind: query.Date},
	query.Field{Name: "Thumbprint", Column: "a.thumbprint", Kind: query.String, CaseInsensitive: true},
)
