// Package store keeps routedeck's state in an embedded SQLite database
// (modernc.org/sqlite, no cgo): the draft workspace, a revision for every
// write, published versions per gateway, users, tokens, sessions and the
// audit log.
//
// Secret values (model.MapSecrets' list, route tests, settings) are sealed
// with the master key the store is opened with before they reach the file,
// and opened again when read: see sealing.go, and rekey.go for the
// migration of older databases and key rotation.
//
// CONTRACT: the exported API below is what backend/api and the CLI code
// against; keep the signatures.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/routedeck/routedeck/backend/events"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/seal"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is an open database. It is safe for concurrent use.
//
// Reads go through a pool of read-only connections; every write goes through
// a single connection that starts its transactions with BEGIN IMMEDIATE.
// Writers therefore queue in Go instead of racing for SQLite's write lock, so
// SQLITE_BUSY never surfaces from this process, and a read-check-write
// (version check, then update) cannot interleave with another one.
type Store struct {
	db  *sql.DB // readers
	wdb *sql.DB // the one writer

	// keys seal every secret value on its way into the database and open
	// it on the way out (sealing.go).
	keys *seal.Keyring
	// versions encodes published versions (versionenc.go).
	versions *versionEncoder
	// checks keeps draft objects' own validation (objectchecks.go).
	checks *objectChecks

	// now is the clock; tests replace it.
	now func() time.Time

	mu    sync.Mutex
	draft *draftCache // last committed draft, see draft.go
	// draftBefore is the draft one generation before draft: a reader
	// whose transaction began just before the last commit sees it.
	draftBefore *draftCache
	// committing is the write between its commit and the cache of what
	// it committed, nil when none (see loadDraft).
	committing *draftCommit
	// draftDecodes counts the decodings of the whole draft.
	draftDecodes atomic.Int64
	// hooks stop a draft read or write at a point of interest, in tests
	// of what readers see while a write commits; nil otherwise.
	hooks struct {
		generationRead func(gen int64) // a draft read saw gen
		committed      func()          // a draft write committed
	}
	// draftMu orders draft writes from start to announcement, so their
	// events arrive in generation order, one generation apart.
	draftMu sync.Mutex

	// events announces every committed change (events.go).
	events *events.Bus

	// generation reads the draft generation. Callers check it on every
	// request that serves something derived from the draft (/evaluate,
	// lint), so it is prepared once rather than parsed each time.
	generation *sql.Stmt
}

// pragmas every connection gets. synchronous(FULL) makes each acknowledged
// commit durable across power loss, not only across a crash of the process.
const pragmas = "_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"

// Open opens (creating if needed) the database file at path and runs the
// embedded migrations. Pragmas (foreign keys, busy timeout, WAL, synchronous
// FULL) are set in the DSN so every pooled connection has them.
//
// keys seal the secrets the store keeps (seal.Open loads them from the data
// directory or the environment). A database whose secrets were sealed with
// a key keys does not hold is refused here, not on the first read. Secrets
// left in clear by a version that did not seal them are sealed on open.
func Open(ctx context.Context, path string, keys *seal.Keyring) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open store: invalid database path %q", path)
	}
	if keys == nil {
		return nil, fmt.Errorf("open store %s: no master key", path)
	}
	wdb, err := sql.Open("sqlite", path+"?"+pragmas+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	s := &Store{wdb: wdb, keys: keys, versions: newVersionEncoder(), checks: newObjectChecks(), events: events.NewBus(), now: func() time.Time { return time.Now().UTC() }}
	// Migrations run first, on the writer: the readers' query_only pragma
	// would refuse them, and journal_mode(WAL) must be set before readers
	// open the file.
	if err := s.migrate(ctx); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := s.checkKeys(ctx); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", path+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		wdb.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s.db = db
	if s.generation, err = db.PrepareContext(ctx, `SELECT generation FROM draft_generation WHERE id = 1`); err != nil {
		db.Close()
		wdb.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.generation.Close(), s.db.Close(), s.wdb.Close())
}

// Keys returns the keyring the store seals with, for services that keep
// secrets of their own or show fingerprints of the store's.
func (s *Store) Keys() *seal.Keyring { return s.keys }

// DB returns the read-only connection pool, for diagnostics and tests
// (PRAGMA integrity_check and the like). Writes through it fail.
func (s *Store) DB() *sql.DB { return s.db }

// ListOptions filters and pages a list. Zero values mean "no filter";
// Limit 0 means the default (100), capped at 1000.
type ListOptions struct {
	Gateway  string // routes of this gateway
	Upstream string // routes forwarding or mirroring to this upstream
	Host     string // routes whose condition mentions this host
	Search   string // substring of name or description
	Limit    int
	Offset   int
}

// Get returns the draft object of kind with name, or ENOTFOUND.
func (s *Store) Get(ctx context.Context, kind, name string) (model.Object, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("get %s %q: %w", kind, name, err)
	}
	defer tx.Rollback()
	return getObject(ctx, tx, s.keys, kind, name)
}

// List returns draft objects of kind matching opt, sorted by name (routes:
// by gateway, priority desc, name), and the total count before paging.
//
// Gateway and Upstream filters also apply to the other kinds where they mean
// something: Gateway on upstreams selects those the gateway's routes use, on
// gateways the gateway itself; Upstream on upstreams selects that upstream.
// Host applies to routes only. Search is case-insensitive.
func (s *Store) List(ctx context.Context, kind string, opt ListOptions) ([]model.Object, int, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("list %s: %w", kind, err)
	}
	defer tx.Rollback()
	return listObjects(ctx, tx, s.keys, kind, opt)
}

// Create stores a new object with version 1. An existing name is ECONFLICT.
// The whole draft workspace, with the object added, must pass
// model.Workspace.Validate; otherwise EINVALID and nothing is written.
// On success obj's Meta (Version, UpdatedAt, UpdatedBy) is filled in.
func (s *Store) Create(ctx context.Context, actor string, obj model.Object) error {
	return s.writeDraft(ctx, func(w *draftWrite) error {
		return w.create(actor, obj)
	})
}

// Update replaces an object. obj.Version must equal the stored version
// (else ECONFLICT, nothing written); it is incremented on success.
func (s *Store) Update(ctx context.Context, actor string, obj model.Object) error {
	return s.writeDraft(ctx, func(w *draftWrite) error {
		return w.update(actor, obj)
	})
}

// Delete removes an object. version must equal the stored version (ECONFLICT
// otherwise); 0 skips the check (CLI delete). Deleting something still
// referenced fails with EINVALID naming the referrers.
func (s *Store) Delete(ctx context.Context, actor, kind, name string, version int64) error {
	return s.writeDraft(ctx, func(w *draftWrite) error {
		return w.delete(actor, kind, name, version)
	})
}

// ApplyResult says what Apply did to each object ("created", "updated",
// "unchanged").
type ApplyResult struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Action  string `json:"action"`
	Version int64  `json:"version"`
}

// Apply creates or updates every object of ws in one transaction (versions
// in ws are ignored: apply is "make it so"). The resulting draft must
// validate; otherwise EINVALID with every problem and nothing is written.
func (s *Store) Apply(ctx context.Context, actor string, ws model.Workspace) ([]ApplyResult, error) {
	var results []ApplyResult
	err := s.writeDraft(ctx, func(w *draftWrite) error {
		var err error
		results, err = w.apply(actor, ws)
		return err
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// Workspace returns the whole draft.
func (s *Store) Workspace(ctx context.Context) (model.Workspace, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return model.Workspace{}, fmt.Errorf("read workspace: %w", err)
	}
	defer tx.Rollback()
	return readWorkspace(ctx, tx, s.keys)
}

// DraftGeneration is a number that changes with every committed write to
// the draft, so derived results (lint findings, say) can be cached until
// it moves.
func (s *Store) DraftGeneration(ctx context.Context) (int64, error) {
	var gen int64
	if err := s.generation.QueryRowContext(ctx).Scan(&gen); err != nil {
		return 0, fmt.Errorf("read draft generation: %w", err)
	}
	return gen, nil
}

// GatewayWorkspace returns what a gateway's configuration is made of: the
// gateway, its routes, the upstreams they reference and the secrets the
// gateway and those upstreams use.
func (s *Store) GatewayWorkspace(ctx context.Context, gateway string) (model.Workspace, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return model.Workspace{}, fmt.Errorf("read gateway %q: %w", gateway, err)
	}
	defer tx.Rollback()
	return gatewayWorkspace(ctx, tx, s.keys, gateway)
}

// Revision is one recorded write.
type Revision struct {
	ID      int64           `json:"id"`
	At      time.Time       `json:"at"`
	Actor   string          `json:"actor"`
	Kind    string          `json:"kind"`
	Name    string          `json:"name"`
	Action  string          `json:"action"` // create, update, delete, rollback
	Version int64           `json:"version"`
	Before  json.RawMessage `json:"before,omitempty"` // object JSON, null on create
	After   json.RawMessage `json:"after,omitempty"`  // object JSON, null on delete
	Diff    string          `json:"diff"`             // unified diff of the YAML forms
	// DiffTooLarge is set when the object was past the diff size caps:
	// Diff is then a one-line note saying so, not a diff, while Before
	// and After still hold the whole objects.
	DiffTooLarge bool `json:"diffTooLarge,omitempty"`
}

// RevisionFilter selects revisions; newest first.
type RevisionFilter struct {
	Kind, Name string
	Limit      int
	Offset     int
}

// ListRevisions lists revisions (Before/After/Diff omitted for size).
func (s *Store) ListRevisions(ctx context.Context, f RevisionFilter) ([]Revision, int, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("list revisions: %w", err)
	}
	defer tx.Rollback()
	return listRevisions(ctx, tx, f)
}

// GetRevision returns one revision in full, or ENOTFOUND.
func (s *Store) GetRevision(ctx context.Context, id int64) (Revision, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Revision{}, fmt.Errorf("get revision %d: %w", id, err)
	}
	defer tx.Rollback()
	return getRevision(ctx, tx, s.keys, id)
}

// Published is one published version of a gateway.
type Published struct {
	Gateway   string          `json:"gateway"`
	Version   int64           `json:"version"`
	At        time.Time       `json:"at"`
	Actor     string          `json:"actor"`
	Note      string          `json:"note,omitempty"`
	Workspace model.Workspace `json:"workspace"`
}

// Publish records the gateway's current draft (GatewayWorkspace) as its next
// published version (1, 2, ...). The caller has already translated and
// validated it.
func (s *Store) Publish(ctx context.Context, actor, gateway, note string) (Published, error) {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return Published{}, fmt.Errorf("publish %q: %w", gateway, err)
	}
	defer tx.Rollback()
	p, err := publish(ctx, tx, s.keys, s.versions, s.now(), actor, gateway, note)
	if err != nil {
		return Published{}, err
	}
	if err := tx.Commit(); err != nil {
		return Published{}, fmt.Errorf("publish %q: commit: %w", gateway, err)
	}
	s.announcePublished(p)
	return p, nil
}

// PublishWorkspace records ws, a gateway workspace the caller read from
// the draft (GatewayWorkspace) and checked, as the gateway's next version:
// what was translated and tested is what is recorded, even if the draft
// moved on meanwhile. When ws equals the latest version (the same objects
// at the same versions), nothing is recorded and that version comes back
// with unchanged set.
func (s *Store) PublishWorkspace(ctx context.Context, actor, gateway, note string, ws model.Workspace) (p Published, unchanged bool, err error) {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return Published{}, false, fmt.Errorf("publish %q: %w", gateway, err)
	}
	defer tx.Rollback()
	p, unchanged, err = publishWorkspace(ctx, tx, s.keys, s.versions, s.now(), actor, gateway, note, ws, true)
	if err != nil || unchanged {
		return p, unchanged, err
	}
	if err := tx.Commit(); err != nil {
		return Published{}, false, fmt.Errorf("publish %q: commit: %w", gateway, err)
	}
	s.announcePublished(p)
	return p, false, nil
}

// GetPublished returns a published version; version 0 means the latest.
// ENOTFOUND when there is none.
func (s *Store) GetPublished(ctx context.Context, gateway string, version int64) (Published, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Published{}, fmt.Errorf("get published %q: %w", gateway, err)
	}
	defer tx.Rollback()
	return getPublished(ctx, tx, s.keys, gateway, version)
}

// ListPublished lists a gateway's published versions, newest first
// (Workspace left empty).
func (s *Store) ListPublished(ctx context.Context, gateway string) ([]Published, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("list published %q: %w", gateway, err)
	}
	defer tx.Rollback()
	return listPublished(ctx, tx, gateway)
}

// Rollback makes version the gateway's draft again (recording revisions) and
// publishes it as a new version, which it returns.
//
// The gateway, the upstreams of the old version and its routes are written
// back (only those that differ, each with a "rollback" revision); routes of
// the gateway that the old version did not have are deleted. The resulting
// draft must validate, as for any other write.
func (s *Store) Rollback(ctx context.Context, actor, gateway string, version int64) (Published, error) {
	var p Published
	err := s.writeDraft(ctx, func(w *draftWrite) error {
		var err error
		p, err = w.rollback(actor, gateway, version)
		return err
	})
	if err != nil {
		return Published{}, err
	}
	return p, nil
}

// Roles, lowest first.
const (
	RoleViewer = "viewer"
	RoleEditor = "editor"
	RoleAdmin  = "admin"
)

// User is an account. PasswordHash is never serialised.
type User struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	Role         string    `json:"role"`
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"createdAt"`
}

// CreateUser adds a user (ECONFLICT if the name exists).
func (s *Store) CreateUser(ctx context.Context, actor string, u *User) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.Name, err)
	}
	defer tx.Rollback()
	if err := createUser(ctx, tx, s.now(), actor, u); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create user %q: commit: %w", u.Name, err)
	}
	return nil
}

// UserByName returns a user or ENOTFOUND.
func (s *Store) UserByName(ctx context.Context, name string) (User, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return User{}, fmt.Errorf("get user %q: %w", name, err)
	}
	defer tx.Rollback()
	return userByName(ctx, tx, name)
}

// ListUsers lists users by name.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer tx.Rollback()
	return listUsers(ctx, tx)
}

// CountUsers reports how many users exist (0 on first start).
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// Token is an API token. Only its hash is stored.
type Token struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Hash      string     `json:"-"`
	CreatedAt time.Time  `json:"createdAt"`
	LastUsed  *time.Time `json:"lastUsed,omitempty"`
}

// CreateToken stores a token by hash.
func (s *Store) CreateToken(ctx context.Context, actor string, t *Token) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create token %q: %w", t.Name, err)
	}
	defer tx.Rollback()
	if err := createToken(ctx, tx, s.now(), actor, t); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create token %q: commit: %w", t.Name, err)
	}
	return nil
}

// TokenByHash returns the token with this hash or EUNAUTHORIZED.
//
// LastUsed is refreshed at most once a minute, so authenticating a burst of
// requests does not turn each of them into a write.
func (s *Store) TokenByHash(ctx context.Context, hash string) (Token, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Token{}, fmt.Errorf("get token: %w", err)
	}
	defer tx.Rollback()
	t, err := tokenByHash(ctx, tx, hash)
	if err != nil {
		return Token{}, err
	}
	tx.Rollback()
	now := s.now()
	if t.LastUsed == nil || now.Sub(*t.LastUsed) > time.Minute {
		if _, err := s.wdb.ExecContext(ctx, `UPDATE tokens SET last_used = ? WHERE id = ?`, unixNano(now), t.ID); err != nil {
			return Token{}, fmt.Errorf("token %q: record use: %w", t.Name, err)
		}
		t.LastUsed = &now
	}
	return t, nil
}

// ListTokens lists tokens (no hashes).
func (s *Store) ListTokens(ctx context.Context) ([]Token, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer tx.Rollback()
	return listTokens(ctx, tx)
}

// DeleteToken revokes a token by id.
func (s *Store) DeleteToken(ctx context.Context, actor string, id int64) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete token %d: %w", id, err)
	}
	defer tx.Rollback()
	if err := deleteToken(ctx, tx, s.now(), actor, id); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete token %d: commit: %w", id, err)
	}
	return nil
}

// Session is a browser login. Hash is the hash of the cookie value.
type Session struct {
	Hash      string    `json:"-"`
	User      string    `json:"user"`
	Role      string    `json:"role"`
	CSRF      string    `json:"-"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// CreateSession stores a session.
// Expired sessions are purged on the way.
func (s *Store) CreateSession(ctx context.Context, sess Session) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	defer tx.Rollback()
	if err := createSession(ctx, tx, s.now(), sess); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create session: commit: %w", err)
	}
	return nil
}

// SessionByHash returns an unexpired session or EUNAUTHORIZED.
func (s *Store) SessionByHash(ctx context.Context, hash string) (Session, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Session{}, fmt.Errorf("get session: %w", err)
	}
	defer tx.Rollback()
	return sessionByHash(ctx, tx, s.now(), hash)
}

// DeleteSession ends a session.
// Deleting an unknown session is not an error: the session is gone either way.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	if _, err := s.wdb.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"` // e.g. route.update, gateway.publish, publish.force, token.create, login
	Target string    `json:"target"`
	Detail string    `json:"detail,omitempty"`
}

// Audit appends an entry outside any other write (writes above record their
// own entries in the same transaction).
// A zero At is set to now.
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	defer tx.Rollback()
	if e.At.IsZero() {
		e.At = s.now()
	}
	if e.Detail, err = s.scrubSecrets(ctx, e.Detail); err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	if err := audit(ctx, tx, e); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("audit %s: commit: %w", e.Action, err)
	}
	return nil
}

// ListAudit lists entries newest first.
// Limit 0 means the default (100), capped at 1000.
func (s *Store) ListAudit(ctx context.Context, limit, offset int) ([]AuditEntry, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer tx.Rollback()
	return listAudit(ctx, tx, limit, offset)
}

// GetSetting reads a JSON setting (targets, sandbox options); ENOTFOUND if unset.
func (s *Store) GetSetting(ctx context.Context, key string, v any) error {
	var raw string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return model.Errorf(model.ENOTFOUND, "setting %q is not set", key)
	} else if err != nil {
		return fmt.Errorf("get setting %q: %w", key, err)
	}
	body, err := openText(s.keys, fmt.Sprintf("setting %q", key), raw)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode setting %q: %w", key, err)
	}
	return nil
}

// PutSetting writes a JSON setting.
func (s *Store) PutSetting(ctx context.Context, actor, key string, v any) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("put setting %q: %w", key, err)
	}
	defer tx.Rollback()
	if err := putSetting(ctx, tx, s.keys, s.now(), actor, key, v); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("put setting %q: commit: %w", key, err)
	}
	s.events.Settings.Publish(events.SettingChanged{Key: key})
	return nil
}
