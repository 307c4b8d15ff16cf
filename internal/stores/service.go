package stores

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/pki"
	"github.com/certdock/certdock/internal/query"
)

// Options wires the service.
type Options struct {
	Repo        Repo
	InTx        func(ctx context.Context, fn func(Repo) error) error
	Dialect     query.Dialect
	Seal        func(plain, aad []byte) ([]byte, error)
	Open        func(blob, aad []byte) ([]byte, error)
	Now         func() time.Time
	IsNotFound  func(error) bool
	IsDuplicate func(error) bool
}

// Service is the store catalogue.
type Service struct{ o Options }

// New builds the service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = func() time.Time { return time.Now().UTC() }
	}
	return &Service{o: o}
}

// PasswordAAD is the associated data a store password is sealed with.
func PasswordAAD(storeID string) []byte { return []byte("store-password:" + storeID) }

func (s *Service) notFound(err error, format string, args ...any) error {
	if err != nil && s.o.IsNotFound(err) {
		return errs.NotFoundf(format, args...)
	}
	return errs.Wrap(err, fmt.Sprintf(format, args...))
}

func actorName(p *auth.Principal) string {
	if p == nil {
		return "system"
	}
	return p.AccountName
}

// ---- store types ----

// StoreTypes lists every store type, built-in ones first.
func (s *Service) StoreTypes(ctx context.Context) ([]StoreType, error) {
	ts, err := s.o.Repo.StoreTypes(ctx)
	return ts, errs.Wrap(err, "listing store types")
}

// StoreType returns one store type (errs NotFound for unknown).
func (s *Service) StoreType(ctx context.Context, id int) (StoreType, error) {
	t, err := s.o.Repo.StoreTypeByID(ctx, id)
	if err != nil {
		return t, s.notFound(err, "certificate store type %d was not found", id)
	}
	return t, nil
}

// StoreTypeByShortName finds a store type by its short name, case-insensitively.
func (s *Service) StoreTypeByShortName(ctx context.Context, name string) (StoreType, error) {
	t, err := s.o.Repo.StoreTypeByShortName(ctx, name)
	if err != nil {
		return t, s.notFound(err, "certificate store type %q was not found", name)
	}
	return t, nil
}

// SaveStoreType creates (ID 0) or updates a user-defined store type.
func (s *Service) SaveStoreType(ctx context.Context, p *auth.Principal, t StoreType) (StoreType, error) {
	if err := validateType(&t); err != nil {
		return t, err
	}
	if t.ID != 0 {
		if _, ok := Builtin(t.ID); ok {
			return t, errs.Field("StoreType", "%d is a built-in store type and cannot be changed", t.ID)
		}
	}
	err := s.o.InTx(ctx, func(r Repo) error {
		if t.ID == 0 {
			id, err := r.InsertStoreType(ctx, t)
			if err != nil {
				if s.o.IsDuplicate(err) {
					return errs.Field("ShortName", "%q is already used by another store type", t.ShortName)
				}
				return errs.Wrap(err, "creating store type")
			}
			t.ID = id
		} else {
			if _, err := r.StoreTypeByID(ctx, t.ID); err != nil {
				return s.notFound(err, "certificate store type %d was not found", t.ID)
			}
			if err := r.UpdateStoreType(ctx, t); err != nil {
				if s.o.IsDuplicate(err) {
					return errs.Field("ShortName", "%q is already used by another store type", t.ShortName)
				}
				return errs.Wrap(err, "updating store type")
			}
		}
		return r.Audit(ctx, s.o.Now(), actorName(p), "store-type.save", fmt.Sprint(t.ID), t.ShortName)
	})
	return t, err
}

// DeleteStoreType deletes a user-defined store type no store uses.
func (s *Service) DeleteStoreType(ctx context.Context, p *auth.Principal, id int) error {
	if _, ok := Builtin(id); ok {
		return errs.Conflictf("certificate store type %d is built in and cannot be deleted", id)
	}
	return s.o.InTx(ctx, func(r Repo) error {
		if _, err := r.StoreTypeByID(ctx, id); err != nil {
			return s.notFound(err, "certificate store type %d was not found", id)
		}
		used, err := r.StoreTypeInUse(ctx, id)
		if err != nil {
			return errs.Wrap(err, "checking store type use")
		}
		if used {
			return errs.Conflictf("certificate store type %d is used by stores or containers", id)
		}
		if err := r.DeleteStoreType(ctx, id); err != nil {
			return errs.Wrap(err, "deleting store type")
		}
		return r.Audit(ctx, s.o.Now(), actorName(p), "store-type.delete", fmt.Sprint(id), "")
	})
}

// ---- containers ----

// Containers lists containers (pq.queryString over ContainerSchema).
func (s *Service) Containers(ctx context.Context, v url.Values) ([]Container, error) {
	l, err := s.compile(v, ContainerSchema, "Id", "pq.", "query.")
	if err != nil {
		return nil, err
	}
	cs, err := s.o.Repo.Containers(ctx, l)
	return cs, errs.Wrap(err, "listing containers")
}

// Container returns one container.
func (s *Service) Container(ctx context.Context, id int64) (Container, error) {
	c, err := s.o.Repo.Container(ctx, id)
	if err != nil {
		return c, s.notFound(err, "certificate store container %d was not found", id)
	}
	return c, nil
}

// SaveContainer creates (ID 0) or updates a container.
func (s *Service) SaveContainer(ctx context.Context, p *auth.Principal, c Container) (Container, error) {
	c.Name = strings.TrimSpace(c.Name)
	if c.Name == "" {
		return c, errs.Field("Name", "is required")
	}
	if len(c.Name) > 200 {
		return c, errs.Field("Name", "must be at most 200 characters")
	}
	sc, err := ParseSchedule(c.Schedule)
	if err != nil {
		return c, errs.Field("Schedule", "%v", err)
	}
	err = s.o.InTx(ctx, func(r Repo) error {
		if _, err := r.StoreTypeByID(ctx, c.StoreType); err != nil {
			if s.o.IsNotFound(err) {
				return errs.Field("CertStoreType", "%d is not a certificate store type", c.StoreType)
			}
			return errs.Wrap(err, "reading store type")
		}
		if c.ID == 0 {
			id, err := r.InsertContainer(ctx, c)
			if err != nil {
				if s.o.IsDuplicate(err) {
					return errs.Field("Name", "%q is already used by another container", c.Name)
				}
				return errs.Wrap(err, "creating container")
			}
			c.ID = id
		} else {
			if _, err := r.Container(ctx, c.ID); err != nil {
				return s.notFound(err, "certificate store container %d was not found", c.ID)
			}
			if err := r.UpdateContainer(ctx, c); err != nil {
				if s.o.IsDuplicate(err) {
					return errs.Field("Name", "%q is already used by another container", c.Name)
				}
				return errs.Wrap(err, "updating container")
			}
			if c.OverwriteSchedules {
				if err := r.SetContainerSchedule(ctx, c.ID, sc.String(), sc.First(s.o.Now())); err != nil {
					return errs.Wrap(err, "applying the container schedule")
				}
			}
		}
		return r.Audit(ctx, s.o.Now(), actorName(p), "store-container.save", fmt.Sprint(c.ID), c.Name)
	})
	if err != nil {
		return c, err
	}
	return s.Container(ctx, c.ID)
}

// DeleteContainer deletes a container; its stores stay, without a container.
func (s *Service) DeleteContainer(ctx context.Context, p *auth.Principal, id int64) error {
	return s.o.InTx(ctx, func(r Repo) error {
		if _, err := r.Container(ctx, id); err != nil {
			return s.notFound(err, "certificate store container %d was not found", id)
		}
		if err := r.DeleteContainer(ctx, id); err != nil {
			return errs.Wrap(err, "deleting container")
		}
		return r.Audit(ctx, s.o.Now(), actorName(p), "store-container.delete", fmt.Sprint(id), "")
	})
}

// ---- stores ----

// CanRead reports whether p may read store st (StoresRead globally or on its container).
func CanRead(p *auth.Principal, st Store) bool { return onContainer(p, auth.StoresRead, st) }

// CanModify reports whether p may change store st.
func CanModify(p *auth.Principal, st Store) bool { return onContainer(p, auth.StoresModify, st) }

// CanSchedule reports whether p may schedule jobs (deliveries) into store st:
// StoresSchedule globally or on the store's container.
func CanSchedule(p *auth.Principal, st Store) bool { return onContainer(p, auth.StoresSchedule, st) }

func onContainer(p *auth.Principal, perm auth.Permission, st Store) bool {
	var c int64
	if st.ContainerID != nil {
		c = *st.ContainerID
	}
	return p.HasOnContainer(perm, c)
}

// ReadableContainers returns nil when p reads every store, else the
// containers p holds StoresRead on (possibly none).
func ReadableContainers(p *auth.Principal) []int64 {
	if p.Has(auth.StoresRead) {
		return nil
	}
	out := []int64{}
	for _, g := range p.Grants() {
		if g.Permission == auth.StoresRead && g.Container != 0 {
			out = append(out, g.Container)
		}
	}
	return out
}

// Get returns one store (errs NotFound for unknown).
func (s *Service) Get(ctx context.Context, id string) (Store, error) {
	r, err := s.o.Repo.StoreRow(ctx, id)
	if err != nil {
		return Store{}, s.notFound(err, "certificate store %s was not found", id)
	}
	return r.Store, nil
}

// GetFor returns a store the principal may read; a store it may not read is
// Forbidden (the store's existence is not secret from a store reader).
func (s *Service) GetFor(ctx context.Context, p *auth.Principal, id string) (Store, error) {
	if !IsUUID(id) {
		return Store{}, errs.Field("id", "%q is not a GUID", id)
	}
	st, err := s.Get(ctx, id)
	if err != nil {
		return st, err
	}
	if !CanRead(p, st) {
		return st, errs.Forbiddenf("%s lacks %s on the container of certificate store %s", actorName(p), auth.StoresRead, id)
	}
	return st, nil
}

// StorePassword returns the decrypted store password, "" when none.
func (s *Service) StorePassword(ctx context.Context, id string) (string, error) {
	r, err := s.o.Repo.StoreRow(ctx, id)
	if err != nil {
		return "", s.notFound(err, "certificate store %s was not found", id)
	}
	if len(r.PasswordSealed) == 0 {
		return "", nil
	}
	b, err := s.o.Open(r.PasswordSealed, PasswordAAD(id))
	if err != nil {
		return "", errs.Wrap(err, "opening store password")
	}
	return string(b), nil
}

// List lists the stores p may read (certificateStoreQuery.* or bare paging).
func (s *Service) List(ctx context.Context, p *auth.Principal, v url.Values) ([]Store, error) {
	l, err := s.compile(v, StoreSchema, "Id", "certificateStoreQuery.", "pq.", "query.")
	if err != nil {
		return nil, err
	}
	l.Containers = ReadableContainers(p)
	out, err := s.o.Repo.Stores(ctx, l)
	return out, errs.Wrap(err, "listing stores")
}

// Create validates and records a new store.
func (s *Service) Create(ctx context.Context, p *auth.Principal, in StoreInput) (Store, error) {
	in.ID = NewUUID()
	return s.save(ctx, p, in, true)
}

// Update validates and changes a store.
func (s *Service) Update(ctx context.Context, p *auth.Principal, in StoreInput) (Store, error) {
	if !IsUUID(in.ID) {
		return Store{}, errs.Field("Id", "%q is not a GUID", in.ID)
	}
	return s.save(ctx, p, in, false)
}

func (s *Service) save(ctx context.Context, p *auth.Principal, in StoreInput, create bool) (Store, error) {
	in.ClientMachine = strings.TrimSpace(in.ClientMachine)
	in.StorePath = strings.TrimSpace(in.StorePath)
	in.AgentID = strings.TrimSpace(in.AgentID)
	switch {
	case in.ClientMachine == "":
		return Store{}, errs.Field("ClientMachine", "is required")
	case len(in.ClientMachine) > 255:
		return Store{}, errs.Field("ClientMachine", "must be at most 255 characters")
	case in.StorePath == "":
		return Store{}, errs.Field("StorePath", "is required")
	case len(in.StorePath) > 1024:
		return Store{}, errs.Field("StorePath", "must be at most 1024 characters")
	case strings.ContainsRune(in.StorePath, 0):
		return Store{}, errs.Field("StorePath", "must not contain NUL")
	case in.StoreType == 0:
		return Store{}, errs.Field("CertStoreType", "is required")
	case in.AgentID == "":
		return Store{}, errs.Field("AgentId", "is required")
	case !IsUUID(in.AgentID):
		return Store{}, errs.Field("AgentId", "%q is not a GUID", in.AgentID)
	case len(in.DisplayName) > 255:
		return Store{}, errs.Field("DisplayName", "must be at most 255 characters")
	}
	in.AgentID = strings.ToLower(in.AgentID)
	sched, err := ParseSchedule(in.InventorySchedule)
	if err != nil {
		return Store{}, errs.Field("InventorySchedule", "%v", err)
	}
	if in.ContainerID != nil && *in.ContainerID <= 0 {
		in.ContainerID = nil
	}
	now := s.o.Now().UTC().Truncate(time.Second)
	var out Store
	err = s.o.InTx(ctx, func(r Repo) error {
		t, err := r.StoreTypeByID(ctx, in.StoreType)
		if err != nil {
			if s.o.IsNotFound(err) {
				return errs.Field("CertStoreType", "%d is not a certificate store type", in.StoreType)
			}
			return errs.Wrap(err, "reading store type")
		}
		props, err := checkProperties(t, in.Properties)
		if err != nil {
			return err
		}
		if _, err := r.Agent(ctx, in.AgentID); err != nil {
			if s.o.IsNotFound(err) {
				return errs.Field("AgentId", "no agent %s is registered", in.AgentID)
			}
			return errs.Wrap(err, "reading agent")
		}
		var containerName string
		if in.ContainerID != nil {
			c, err := r.Container(ctx, *in.ContainerID)
			if err != nil {
				if s.o.IsNotFound(err) {
					return errs.Field("ContainerId", "%d is not a certificate store container", *in.ContainerID)
				}
				return errs.Wrap(err, "reading container")
			}
			containerName = c.Name
			// A container that overwrites schedules gives its stores its own.
			if c.OverwriteSchedules {
				if sched, err = ParseSchedule(c.Schedule); err != nil {
					return errs.Wrap(err, "container schedule")
				}
			}
		}
		// The caller needs StoresModify globally or on the target container.
		target := Store{ContainerID: in.ContainerID}
		if !CanModify(p, target) {
			return errs.Forbiddenf("%s lacks %s on the target container", actorName(p), auth.StoresModify)
		}
		row := StoreRow{Store: Store{
			ID: in.ID, ContainerID: in.ContainerID, ContainerName: containerName, DisplayName: in.DisplayName,
			ClientMachine: in.ClientMachine, StorePath: in.StorePath, StoreType: in.StoreType, Approved: true,
			CreateIfMissing: in.CreateIfMissing, Properties: props, AgentID: in.AgentID,
			InventorySchedule: sched.String(), SetNewPasswordAllowed: in.SetNewPasswordAllowed, CreatedAt: now,
		}}
		if in.Approved != nil {
			row.Approved = *in.Approved
		}
		if !create {
			old, err := r.StoreRow(ctx, in.ID)
			if err != nil {
				return s.notFound(err, "certificate store %s was not found", in.ID)
			}
			if !CanModify(p, old.Store) {
				return errs.Forbiddenf("%s lacks %s on the container of certificate store %s", actorName(p), auth.StoresModify, in.ID)
			}
			row.CreatedAt = old.CreatedAt
			row.PasswordSealed = old.PasswordSealed
			if in.Approved == nil {
				row.Approved = old.Approved
			}
			if old.InventorySchedule == row.InventorySchedule {
				row.NextInventoryAt = old.NextInventoryAt
			} else {
				row.NextInventoryAt = sched.First(now)
			}
		} else {
			row.NextInventoryAt = sched.First(now)
		}
		if in.Password != nil {
			if len(*in.Password) > 1024 {
				return errs.Field("Password", "must be at most 1024 characters")
			}
			row.PasswordSealed = nil
			if *in.Password != "" {
				sealed, err := s.o.Seal([]byte(*in.Password), PasswordAAD(in.ID))
				if err != nil {
					return errs.Wrap(err, "sealing store password")
				}
				row.PasswordSealed = sealed
			}
		}
		if t.PasswordOptions.StoreRequired && len(row.PasswordSealed) == 0 {
			return errs.Field("Password", "store type %s requires a store password", t.ShortName)
		}
		row.HasPassword = len(row.PasswordSealed) > 0
		if create {
			err = r.InsertStore(ctx, row)
		} else {
			err = r.UpdateStore(ctx, row)
		}
		if err != nil {
			if s.o.IsDuplicate(err) {
				return errs.Field("StorePath", "a store of type %s at %q on %s already exists", t.ShortName, in.StorePath, in.ClientMachine)
			}
			return errs.Wrap(err, "saving store")
		}
		action := "store.update"
		if create {
			action = "store.create"
		}
		out = row.Store
		return r.Audit(ctx, now, actorName(p), action, in.ID, in.ClientMachine+" "+in.StorePath)
	})
	return out, err
}

// Delete deletes a store (and its jobs and inventory).
func (s *Service) Delete(ctx context.Context, p *auth.Principal, id string) error {
	if !IsUUID(id) {
		return errs.Field("id", "%q is not a GUID", id)
	}
	return s.o.InTx(ctx, func(r Repo) error {
		old, err := r.StoreRow(ctx, id)
		if err != nil {
			return s.notFound(err, "certificate store %s was not found", id)
		}
		if !CanModify(p, old.Store) {
			return errs.Forbiddenf("%s lacks %s on the container of certificate store %s", actorName(p), auth.StoresModify, id)
		}
		if err := r.DeleteStore(ctx, id); err != nil {
			return errs.Wrap(err, "deleting store")
		}
		return r.Audit(ctx, s.o.Now(), actorName(p), "store.delete", id, old.ClientMachine+" "+old.StorePath)
	})
}

// ---- inventory and locations ----

// MaxInventoryItems caps one inventory report; a store with more entries is
// refused rather than half-recorded.
const MaxInventoryItems = 10000

// ReplaceInventory records a store's inventory as an agent reported it,
// replacing the previous one. Certificates certdock knows (by thumbprint)
// become locations; unknown ones are kept as inventory items only.
func (s *Service) ReplaceInventory(ctx context.Context, storeID string, items []InventoryItem, now time.Time) error {
	if len(items) > MaxInventoryItems {
		return errs.Field("Inventory", "%d entries is more than %d", len(items), MaxInventoryItems)
	}
	tps := make([][]string, len(items))
	seen := map[string]bool{}
	for i, it := range items {
		if seen[it.Alias] {
			return errs.Field("Inventory", "alias %q is reported twice", it.Alias)
		}
		seen[it.Alias] = true
		for _, der := range it.Certificates {
			tps[i] = append(tps[i], pki.ThumbprintDER(der))
		}
	}
	return s.o.InTx(ctx, func(r Repo) error {
		if _, err := r.StoreRow(ctx, storeID); err != nil {
			return s.notFound(err, "certificate store %s was not found", storeID)
		}
		return errs.Wrap(r.ReplaceInventory(ctx, storeID, items, tps, now.UTC()), "recording inventory")
	})
}

// Inventory returns a page of a store's latest inventory.
func (s *Service) Inventory(ctx context.Context, p *auth.Principal, storeID string, v url.Values) ([]InventoryEntry, error) {
	if _, err := s.GetFor(ctx, p, storeID); err != nil {
		return nil, err
	}
	page, err := query.ParsePage(v, "query.", "pq.")
	if err != nil {
		return nil, err
	}
	limit, offset := page.LimitOffset()
	es, err := s.o.Repo.Inventory(ctx, storeID, limit, offset)
	return es, errs.Wrap(err, "reading inventory")
}

// LocationsOf lists the stores holding a certificate, from each store's latest inventory.
func (s *Service) LocationsOf(ctx context.Context, certID int64) ([]Location, error) {
	ls, err := s.o.Repo.LocationsOf(ctx, certID)
	return ls, errs.Wrap(err, "reading locations")
}

// maxLocationBatch bounds the certificate ids of one LocationsOfMany query.
const maxLocationBatch = 500

// LocationsOfMany lists the stores holding each of the certificates (a
// page of a certificate list) with one query per 500 certificates.
func (s *Service) LocationsOfMany(ctx context.Context, certIDs []int64) (map[int64][]Location, error) {
	out := make(map[int64][]Location, len(certIDs))
	for len(certIDs) > 0 {
		n := min(len(certIDs), maxLocationBatch)
		ls, err := s.o.Repo.LocationsOfMany(ctx, certIDs[:n])
		if err != nil {
			return nil, errs.Wrap(err, "reading locations")
		}
		for _, l := range ls {
			out[l.CertificateID] = append(out[l.CertificateID], l)
		}
		certIDs = certIDs[n:]
	}
	return out, nil
}

// ---- agents ----

// Agents lists agents (pq.queryString over AgentSchema).
func (s *Service) Agents(ctx context.Context, v url.Values) ([]Agent, error) {
	l, err := s.compile(v, AgentSchema, "ClientMachine", "pq.", "query.")
	if err != nil {
		return nil, err
	}
	as, err := s.o.Repo.Agents(ctx, l)
	return as, errs.Wrap(err, "listing agents")
}

// Agent returns one agent.
func (s *Service) Agent(ctx context.Context, id string) (Agent, error) {
	if !IsUUID(id) {
		return Agent{}, errs.Field("id", "%q is not a GUID", id)
	}
	a, err := s.o.Repo.Agent(ctx, strings.ToLower(id))
	if err != nil {
		return a, s.notFound(err, "agent %s was not found", id)
	}
	return a, nil
}

// AgentByThumbprint finds the agent holding a client certificate.
func (s *Service) AgentByThumbprint(ctx context.Context, tp string) (Agent, error) {
	a, err := s.o.Repo.AgentByThumbprint(ctx, strings.ToUpper(tp))
	if err != nil {
		return a, s.notFound(err, "no agent holds the certificate %s", tp)
	}
	return a, nil
}

// RegisterAgent records a new agent (status New unless set). AgentID is
// generated when empty.
func (s *Service) RegisterAgent(ctx context.Context, a Agent) (Agent, error) {
	if a.AgentID == "" {
		a.AgentID = NewUUID()
	}
	a.AgentID = strings.ToLower(a.AgentID)
	if a.Status == 0 {
		a.Status = AgentNew
	}
	if strings.TrimSpace(a.ClientMachine) == "" {
		return a, errs.Field("ClientMachine", "is required")
	}
	if a.Capabilities == nil {
		a.Capabilities = []string{}
	}
	a.Thumbprint = strings.ToUpper(a.Thumbprint)
	a.CreatedAt = s.o.Now().UTC().Truncate(time.Second)
	err := s.o.InTx(ctx, func(r Repo) error {
		if err := r.InsertAgent(ctx, a); err != nil {
			if s.o.IsDuplicate(err) {
				return errs.Conflictf("agent %s already exists", a.AgentID)
			}
			return errs.Wrap(err, "recording agent")
		}
		return r.Audit(ctx, a.CreatedAt, a.Username, "agent.register", a.AgentID, a.ClientMachine)
	})
	return a, err
}

// UpdateAgent writes an agent's mutable fields (heartbeat, capabilities,
// thumbprint, errors); its status changes only through SetStatus.
func (s *Service) UpdateAgent(ctx context.Context, a Agent) error {
	a.AgentID = strings.ToLower(a.AgentID)
	a.Thumbprint = strings.ToUpper(a.Thumbprint)
	if a.Capabilities == nil {
		a.Capabilities = []string{}
	}
	err := s.o.Repo.UpdateAgent(ctx, a)
	if err != nil {
		return s.notFound(err, "agent %s was not found", a.AgentID)
	}
	return nil
}

// SetStatus approves or disapproves agents; every id must exist.
func (s *Service) SetStatus(ctx context.Context, p *auth.Principal, ids []string, status int) error {
	if len(ids) == 0 {
		return errs.Field("body", "list at least one agent id")
	}
	for i, id := range ids {
		if !IsUUID(id) {
			return errs.Field(fmt.Sprintf("body[%d]", i), "%q is not a GUID", id)
		}
	}
	return s.o.InTx(ctx, func(r Repo) error {
		for _, id := range ids {
			id = strings.ToLower(id)
			if err := r.SetAgentStatus(ctx, id, status); err != nil {
				return s.notFound(err, "agent %s was not found", id)
			}
			if err := r.Audit(ctx, s.o.Now(), actorName(p), fmt.Sprintf("agent.status.%d", status), id, ""); err != nil {
				return err
			}
		}
		return nil
	})
}

// Reset returns an agent to New: it must be approved again and re-register.
func (s *Service) Reset(ctx context.Context, p *auth.Principal, id string) error {
	if !IsUUID(id) {
		return errs.Field("id", "%q is not a GUID", id)
	}
	id = strings.ToLower(id)
	return s.o.InTx(ctx, func(r Repo) error {
		a, err := r.Agent(ctx, id)
		if err != nil {
			return s.notFound(err, "agent %s was not found", id)
		}
		a.Thumbprint = ""
		a.LastErrorCode, a.LastErrorMessage = 0, ""
		if err := r.UpdateAgent(ctx, a); err != nil {
			return errs.Wrap(err, "resetting agent")
		}
		if err := r.SetAgentStatus(ctx, id, AgentNew); err != nil {
			return errs.Wrap(err, "resetting agent")
		}
		return r.Audit(ctx, s.o.Now(), actorName(p), "agent.reset", id, "")
	})
}

// RegistrationTokenTTL bounds how long an unused bootstrap token stays valid.
const (
	DefaultTokenTTL = 24 * time.Hour
	MaxTokenTTL     = 30 * 24 * time.Hour
)

// CreateRegistrationToken makes a one-time agent bootstrap token. The token
// is returned once; only its SHA-256 is stored.
func (s *Service) CreateRegistrationToken(ctx context.Context, p *auth.Principal, description string, ttl time.Duration) (string, time.Time, error) {
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	if ttl < time.Minute || ttl > MaxTokenTTL {
		return "", time.Time{}, errs.Field("ValidMinutes", "must be 1 to %d minutes", int(MaxTokenTTL/time.Minute))
	}
	if len(description) > 255 {
		return "", time.Time{}, errs.Field("Description", "must be at most 255 characters")
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, errs.Wrap(err, "random token")
	}
	tok := "cdt_" + base64.RawURLEncoding.EncodeToString(b[:])
	now := s.o.Now().UTC().Truncate(time.Second)
	exp := now.Add(ttl)
	err := s.o.InTx(ctx, func(r Repo) error {
		if _, err := r.InsertRegistrationToken(ctx, RegistrationToken{TokenHash: TokenHash(tok), Description: description,
			CreatedBy: actorName(p), CreatedAt: now, ExpiresAt: exp}); err != nil {
			return errs.Wrap(err, "recording token")
		}
		return r.Audit(ctx, now, actorName(p), "agent.registration-token", "", description)
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, exp, nil
}

// TokenHash is how a registration token is stored.
func TokenHash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// UseRegistrationToken consumes a bootstrap token: true once for a valid,
// unexpired, unused token, false otherwise. usedBy names the registering agent.
func (s *Service) UseRegistrationToken(ctx context.Context, tok, usedBy string, now time.Time) (bool, error) {
	if !strings.HasPrefix(tok, "cdt_") || len(tok) > 100 {
		return false, nil
	}
	ok, err := s.o.Repo.UseRegistrationToken(ctx, TokenHash(tok), usedBy, now.UTC())
	return ok, errs.Wrap(err, "using registration token")
}

// ---- helpers ----

func (s *Service) compile(v url.Values, schema *query.Schema, def string, prefixes ...string) (ListQuery, error) {
	page, err := query.ParsePage(v, prefixes...)
	if err != nil {
		return ListQuery{}, err
	}
	where, args, err := schema.Where(page.Query, s.o.Dialect, 1)
	if err != nil {
		return ListQuery{}, err
	}
	order, err := schema.OrderBy(page, s.o.Dialect, def)
	if err != nil {
		return ListQuery{}, err
	}
	limit, offset := page.LimitOffset()
	return ListQuery{Where: where, Args: args, OrderBy: order, Limit: limit, Offset: offset}, nil
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsUUID reports whether s is a GUID in its 36-character form.
func IsUUID(s string) bool { return uuidRE.MatchString(s) }

// NewUUID returns a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
