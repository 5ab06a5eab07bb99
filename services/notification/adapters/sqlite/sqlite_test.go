package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/shoplab/shoplab/services/notification/adapters/sqlite"
	"github.com/shoplab/shoplab/services/notification/app"
	"github.com/shoplab/shoplab/services/notification/notificationtest"
)

func TestDedupContract(t *testing.T) {
	notificationtest.RunDedupContract(t, func(t *testing.T) app.DedupStore {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "dedup.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestReopenKeepsSentMarks(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "dedup.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent(ctx, "ev-1", notificationtest.Base); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Claim(ctx, "ev-1", "o-1", "tok", notificationtest.Base, notificationtest.Lease)
	if err != nil || got != app.AlreadySent {
		t.Fatalf("claim after reopen = %v, %v; want already_sent", got, err)
	}
}
