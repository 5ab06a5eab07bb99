// Package sqlite is the user Store on embedded SQLite (the local env).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/sqlitex"
	"github.com/shoplab/shoplab/services/user"
	"github.com/shoplab/shoplab/services/user/app"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the goose migrations of the users database.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		// Unreachable: the directory is embedded at build time.
		return migrationFiles
	}
	return sub
}

// Store is an app.Store on a SQLite database.
type Store struct {
	db *sql.DB
}

var _ app.Store = (*Store)(nil)

// Open opens (creating and migrating) the users database at path.
func Open(ctx context.Context, path string, opts ...sqlitex.Option) (*Store, error) {
	db, err := sqlitex.Open(ctx, path, Migrations(), opts...)
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Ping checks that the database answers, for readiness.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Create implements app.Store.
func (s *Store) Create(ctx context.Context, u user.User) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO users (id, email, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.Name, u.PasswordHash, u.CreatedAt.UnixMicro())
	if sqlitex.IsUniqueViolation(err) {
		return errs.Wrap(errs.Conflict, err, "a user with this email or id already exists")
	}
	return storeErr("create user", err)
}

// ByEmail implements app.Store.
func (s *Store) ByEmail(ctx context.Context, email string) (user.User, error) {
	return s.one(ctx, `SELECT id, email, name, password_hash, created_at FROM users WHERE email = ?`, email)
}

// ByID implements app.Store.
func (s *Store) ByID(ctx context.Context, id string) (user.User, error) {
	return s.one(ctx, `SELECT id, email, name, password_hash, created_at FROM users WHERE id = ?`, id)
}

func (s *Store) one(ctx context.Context, query string, arg string) (user.User, error) {
	var u user.User
	var created int64
	err := s.db.QueryRowContext(ctx, query, arg).Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return user.User{}, errs.E(errs.NotFound, "user not found")
	}
	if err != nil {
		return user.User{}, storeErr("read user", err)
	}
	u.CreatedAt = time.UnixMicro(created).UTC()
	return u, nil
}

// storeErr classifies a database failure: the caller's own deadline or
// cancellation keeps its meaning, anything else is the store being
// unavailable, which callers may retry.
func storeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return errs.Wrap(errs.Unavailable, fmt.Errorf("%s: %w", op, err), "user store unavailable")
}
