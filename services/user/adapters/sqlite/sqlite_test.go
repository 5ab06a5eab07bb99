package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/shoplab/shoplab/services/user/adapters/sqlite"
	"github.com/shoplab/shoplab/services/user/app"
	"github.com/shoplab/shoplab/services/user/usertest"
)

func TestStoreContract(t *testing.T) {
	usertest.RunStoreContract(t, func(t *testing.T) app.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "user.db"))
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestReopenKeepsUsers(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "user.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	u := usertest.NewUser("kept@example.com")
	if err := s.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if _, err := s.ByID(ctx, u.ID); err != nil {
		t.Fatalf("after reopen: %v", err)
	}
}
