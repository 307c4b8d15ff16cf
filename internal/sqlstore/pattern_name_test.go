package sqlstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/certdock/certdock/internal/policy"
	"github.com/certdock/certdock/internal/sqlstore"
)

// Pattern names are unique ignoring case (migration 00002), on both databases.
func TestStore_PatternNamesUniqueIgnoringCase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		q := db.Q()
		tid, err := q.InsertTemplate(ctx, policy.Template{CommonName: "NameKeyTemplate", ValidityDays: 30})
		if err != nil {
			t.Fatalf("InsertTemplate: %v", err)
		}
		webID, err := q.InsertPattern(ctx, policy.Pattern{Name: "Web", TemplateID: tid})
		if err != nil {
			t.Fatalf("insert Web: %v", err)
		}
		if _, err := q.InsertPattern(ctx, policy.Pattern{Name: "web", TemplateID: tid}); !errors.Is(err, sqlstore.ErrDuplicate) {
			t.Errorf("insert web after Web: err %v, want ErrDuplicate", err)
		}
		otherID, err := q.InsertPattern(ctx, policy.Pattern{Name: "Other", TemplateID: tid})
		if err != nil {
			t.Fatalf("insert Other: %v", err)
		}
		if err := q.UpdatePattern(ctx, policy.Pattern{ID: otherID, Name: "WEB", TemplateID: tid}); !errors.Is(err, sqlstore.ErrDuplicate) {
			t.Errorf("rename Other to WEB: err %v, want ErrDuplicate", err)
		}
		// Renaming a pattern to another case of its own name is fine.
		if err := q.UpdatePattern(ctx, policy.Pattern{ID: webID, Name: "WeB", TemplateID: tid}); err != nil {
			t.Errorf("rename Web to WeB: %v", err)
		}
		p, err := q.PatternByName(ctx, "wEb")
		if err != nil || p.ID != webID || p.Name != "WeB" {
			t.Errorf("PatternByName(wEb) = %d %q, %v; want %d WeB", p.ID, p.Name, err, webID)
		}
	})
}
