// Package postgres is the user Store on PostgreSQL (the host, compose and
// aws-* envs; the RDS role), with pgx's pool and goose migrations run at Open.
//
// Pool and timeouts: pgxx.Options (10 connections unless set,
// statement_timeout 5 s on every connection, 5 s connect timeout; an
// unreachable server fails Open at once, naming its address).
//
// Locking: each call is one statement in its own implicit transaction; the
// UNIQUE indexes on id and email are what make two concurrent sign-ups with
// one email end in one user and one errs.Conflict.
package postgres

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/pgxx"
	"github.com/shoplab/shoplab/services/user"
	"github.com/shoplab/shoplab/services/user/app"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the goose migrations of the users database (PostgreSQL dialect).
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return migrationFiles // unreachable: embedded at build time
	}
	return sub
}

// Store is an app.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
}

var _ app.Store = (*Store)(nil)

// Open connects to the database of o.URL and migrates it.
func Open(ctx context.Context, o pgxx.Options) (*Store, error) {
	pool, err := pgxx.Open(ctx, o, Migrations())
	if err != nil {
		return nil, err
	}
	return &Store{pool: pool}, nil
}

// Ping checks that the database answers, for readiness.
func (s *Store) Ping(ctx context.Context) error {
	return pgxx.Err("ping user database", s.pool.Ping(ctx), "")
}

// Close closes the pool.
func (s *Store) Close() error { s.pool.Close(); return nil }

// Create implements app.Store.
func (s *Store) Create(ctx context.Context, u user.User) error {
	_, err := s.pool.Exec(ctx,
		`INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
		u.ID, u.Email, u.Name, u.PasswordHash, u.CreatedAt.UnixMicro())
	return pgxx.Err("create user", err, "a user with this email or id already exists")
}

// ByEmail implements app.Store.
func (s *Store) ByEmail(ctx context.Context, email string) (user.User, error) {
	return s.one(ctx, `SELECT id, email, name, password_hash, created_at FROM users WHERE email = $1`, email)
}

// ByID implements app.Store.
func (s *Store) ByID(ctx context.Context, id string) (user.User, error) {
	return s.one(ctx, `SELECT id, email, name, password_hash, created_at FROM users WHERE id = $1`, id)
}

func (s *Store) one(ctx context.Context, query string, arg string) (user.User, error) {
	var u user.User
	var created int64
	err := s.pool.QueryRow(ctx, query, arg).Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return user.User{}, errs.E(errs.NotFound, "user not found")
	}
	if err != nil {
		return user.User{}, pgxx.Err("read user", err, "")
	}
	u.CreatedAt = time.UnixMicro(created).UTC()
	return u, nil
}
