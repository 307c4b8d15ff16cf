package sqlstore

import (
	"context"

	"github.com/certdock/certdock/internal/stores"
)

// LocationsOfMany lists where each of the certificates was inventoried, in
// one query: ordered by certificate, then machine, path and alias (as
// LocationsOf). The text varies with the number of ids, so it bypasses the
// prepared-statement cache.
func (q Q) LocationsOfMany(ctx context.Context, certIDs []int64) ([]stores.Location, error) {
	if len(certIDs) == 0 {
		return nil, nil
	}
	args := make([]any, len(certIDs))
	for i, id := range certIDs {
		args[i] = id
	}
	text := `SELECT ic.certificate_id, s.id, s.client_machine, s.store_path, s.store_type, i.alias, ic.chain_level, s.container_id
		FROM store_inventory_certificates ic
		JOIN store_inventory i ON i.id = ic.item_id
		JOIN stores s ON s.id = i.store_id
		WHERE ic.certificate_id IN (` + marks(len(certIDs)) + `)
		ORDER BY ic.certificate_id, s.client_machine, s.store_path, i.alias`
	rows, err := q.queryBuilt(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(sc rowScanner) (stores.Location, error) {
		var l stores.Location
		err := sc.Scan(&l.CertificateID, &l.StoreID, &l.StoreMachine, &l.StorePath, &l.StoreType, &l.Alias, &l.ChainLevel,
			&l.ContainerID)
		return l, err
	})
}
