// Package store keeps routedeck's state in an embedded SQLite database
// (modernc.org/sqlite, no cgo): the draft workspace, a revision for every
// write, published versions per gateway, users, tokens, sessions and the
// audit log.
//
// CONTRACT: the exported API below is what backend/api and the CLI code
// against. Bodies marked unimplemented are being filled in; keep the
// signatures.
package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/routedeck/routedeck/backend/model"
)

// Store is an open database. It is safe for concurrent use.
type Store struct{}

// Open opens (creating if needed) the database file at path and runs the
// embedded migrations. Pragmas (foreign keys, busy timeout, WAL, synchronous
// FULL) are set in the DSN so every pooled connection has them.
func Open(ctx context.Context, path string) (*Store, error) { panic("unimplemented") }

// Close closes the database.
func (s *Store) Close() error { panic("unimplemented") }

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
	panic("unimplemented")
}

// List returns draft objects of kind matching opt, sorted by name (routes:
// by gateway, priority desc, name), and the total count before paging.
func (s *Store) List(ctx context.Context, kind string, opt ListOptions) ([]model.Object, int, error) {
	panic("unimplemented")
}

// Create stores a new object with version 1. An existing name is ECONFLICT.
// The whole draft workspace, with the object added, must pass
// model.Workspace.Validate; otherwise EINVALID and nothing is written.
// On success obj's Meta (Version, UpdatedAt, UpdatedBy) is filled in.
func (s *Store) Create(ctx context.Context, actor string, obj model.Object) error {
	panic("unimplemented")
}

// Update replaces an object. obj.Version must equal the stored version
// (else ECONFLICT, nothing written); it is incremented on success.
func (s *Store) Update(ctx context.Context, actor string, obj model.Object) error {
	panic("unimplemented")
}

// Delete removes an object. version must equal the stored version (ECONFLICT
// otherwise); 0 skips the check (CLI delete). Deleting something still
// referenced fails with EINVALID naming the referrers.
func (s *Store) Delete(ctx context.Context, actor, kind, name string, version int64) error {
	panic("unimplemented")
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
	panic("unimplemented")
}

// Workspace returns the whole draft.
func (s *Store) Workspace(ctx context.Context) (model.Workspace, error) { panic("unimplemented") }

// GatewayWorkspace returns what a gateway's configuration is made of: the
// gateway, its routes and the upstreams they reference.
func (s *Store) GatewayWorkspace(ctx context.Context, gateway string) (model.Workspace, error) {
	panic("unimplemented")
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
}

// RevisionFilter selects revisions; newest first.
type RevisionFilter struct {
	Kind, Name string
	Limit      int
	Offset     int
}

// ListRevisions lists revisions (Before/After/Diff omitted for size).
func (s *Store) ListRevisions(ctx context.Context, f RevisionFilter) ([]Revision, int, error) {
	panic("unimplemented")
}

// GetRevision returns one revision in full, or ENOTFOUND.
func (s *Store) GetRevision(ctx context.Context, id int64) (Revision, error) {
	panic("unimplemented")
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
	panic("unimplemented")
}

// GetPublished returns a published version; version 0 means the latest.
// ENOTFOUND when there is none.
func (s *Store) GetPublished(ctx context.Context, gateway string, version int64) (Published, error) {
	panic("unimplemented")
}

// ListPublished lists a gateway's published versions, newest first
// (Workspace left empty).
func (s *Store) ListPublished(ctx context.Context, gateway string) ([]Published, error) {
	panic("unimplemented")
}

// Rollback makes version the gateway's draft again (recording revisions) and
// publishes it as a new version, which it returns.
func (s *Store) Rollback(ctx context.Context, actor, gateway string, version int64) (Published, error) {
	panic("unimplemented")
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
func (s *Store) CreateUser(ctx context.Context, actor string, u *User) error { panic("unimplemented") }

// UserByName returns a user or ENOTFOUND.
func (s *Store) UserByName(ctx context.Context, name string) (User, error) { panic("unimplemented") }

// ListUsers lists users by name.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) { panic("unimplemented") }

// CountUsers reports how many users exist (0 on first start).
func (s *Store) CountUsers(ctx context.Context) (int, error) { panic("unimplemented") }

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
	panic("unimplemented")
}

// TokenByHash returns the token with this hash or EUNAUTHORIZED.
func (s *Store) TokenByHash(ctx context.Context, hash string) (Token, error) { panic("unimplemented") }

// ListTokens lists tokens (no hashes).
func (s *Store) ListTokens(ctx context.Context) ([]Token, error) { panic("unimplemented") }

// DeleteToken revokes a token by id.
func (s *Store) DeleteToken(ctx context.Context, actor string, id int64) error {
	panic("unimplemented")
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
func (s *Store) CreateSession(ctx context.Context, sess Session) error { panic("unimplemented") }

// SessionByHash returns an unexpired session or EUNAUTHORIZED.
func (s *Store) SessionByHash(ctx context.Context, hash string) (Session, error) {
	panic("unimplemented")
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, hash string) error { panic("unimplemented") }

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
func (s *Store) Audit(ctx context.Context, e AuditEntry) error { panic("unimplemented") }

// ListAudit lists entries newest first.
func (s *Store) ListAudit(ctx context.Context, limit, offset int) ([]AuditEntry, error) {
	panic("unimplemented")
}

// GetSetting reads a JSON setting (targets, sandbox options); ENOTFOUND if unset.
func (s *Store) GetSetting(ctx context.Context, key string, v any) error { panic("unimplemented") }

// PutSetting writes a JSON setting.
func (s *Store) PutSetting(ctx context.Context, actor, key string, v any) error {
	panic("unimplemented")
}
