package delivery

import (
	"context"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/stores"
)

// StoresCatalog is the Catalog over the store catalogue (internal/stores).
type StoresCatalog struct{ S *stores.Service }

// Store returns a store with its type's short name and entry password option.
func (c StoresCatalog) Store(ctx context.Context, id string) (StoreInfo, error) {
	s, err := c.S.Get(ctx, id)
	if err != nil {
		return StoreInfo{}, err
	}
	return storeInfo(s, func(id int) (stores.StoreType, error) { return c.S.StoreType(ctx, id) })
}

// txStoreReader reads stores in a transaction; sqlstore.Q implements it.
type txStoreReader interface {
	StoreRow(ctx context.Context, id string) (stores.StoreRow, error)
	StoreTypeByID(ctx context.Context, id int) (stores.StoreType, error)
}

// StoreTx is Store read through tx when tx can read stores (a sqlstore.Q
// in a transaction), so that no second connection is needed.
func (c StoresCatalog) StoreTx(ctx context.Context, tx Tx, id string) (StoreInfo, error) {
	r, ok := tx.(txStoreReader)
	if !ok {
		return c.Store(ctx, id)
	}
	row, err := r.StoreRow(ctx, id)
	if err != nil {
		return StoreInfo{}, err
	}
	return storeInfo(row.Store, func(id int) (stores.StoreType, error) { return r.StoreTypeByID(ctx, id) })
}

func storeInfo(s stores.Store, storeType func(int) (stores.StoreType, error)) (StoreInfo, error) {
	info := StoreInfo{ID: s.ID, StoreType: s.StoreType, ClientMachine: s.ClientMachine, StorePath: s.StorePath, Approved: s.Approved}
	if s.ContainerID != nil {
		info.ContainerID = *s.ContainerID
	}
	t, err := storeType(s.StoreType)
	if err != nil {
		return info, err
	}
	info.StoreTypeName, info.EntryPassword = t.ShortName, t.PasswordOptions.EntrySupported
	return info, nil
}

// CanSchedule is stores.CanSchedule: the schedule permission globally or on
// the store's container.
func (c StoresCatalog) CanSchedule(p *auth.Principal, s StoreInfo) bool {
	st := stores.Store{ID: s.ID}
	if s.ContainerID != 0 {
		id := s.ContainerID
		st.ContainerID = &id
	}
	return stores.CanSchedule(p, st)
}

// LocationsOf lists the inventory entries whose own certificate (chain
// level 0) is certID; a certificate seen only as another entry's chain is
// not a location to replace.
func (c StoresCatalog) LocationsOf(ctx context.Context, certID int64) ([]Location, error) {
	ls, err := c.S.LocationsOf(ctx, certID)
	if err != nil {
		return nil, err
	}
	var out []Location
	for _, l := range ls {
		if l.ChainLevel == 0 {
			out = append(out, Location{StoreID: l.StoreID, Alias: l.Alias})
		}
	}
	return out, nil
}
