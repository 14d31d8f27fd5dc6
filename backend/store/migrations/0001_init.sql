-- Draft workspace: one row per object. The columns beside spec copy what
-- lists filter and sort on, so those need no JSON parsing.
CREATE TABLE objects (
    kind        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    version     INTEGER NOT NULL CHECK (version > 0),
    gateway     TEXT    NOT NULL DEFAULT '',  -- routes only
    priority    INTEGER NOT NULL DEFAULT 0,   -- routes only
    description TEXT    NOT NULL DEFAULT '',
    spec        TEXT    NOT NULL,             -- object JSON without Meta
    updated_at  INTEGER NOT NULL,             -- unix nanoseconds, UTC
    updated_by  TEXT    NOT NULL,
    PRIMARY KEY (kind, name)
) WITHOUT ROWID;

CREATE INDEX objects_route_order ON objects (kind, gateway, priority DESC, name);

-- What a route refers to, kept in step with objects so the upstream and host
-- filters of List are plain indexed joins.
CREATE TABLE route_refs (
    route TEXT NOT NULL,
    ref   TEXT NOT NULL CHECK (ref IN ('upstream', 'host')),
    value TEXT NOT NULL,
    PRIMARY KEY (route, ref, value)
) WITHOUT ROWID;

CREATE INDEX route_refs_value ON route_refs (ref, value);

-- Counts every change to objects. Any writer, in any process, bumps it in the
-- same transaction, so a cached copy of the draft is valid exactly while the
-- counter is unchanged.
CREATE TABLE draft_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO draft_generation (id, generation) VALUES (1, 0);

CREATE TABLE revisions (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    kind    TEXT    NOT NULL,
    name    TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    version INTEGER NOT NULL,
    before  TEXT,
    after   TEXT,
    diff    TEXT    NOT NULL
);

CREATE INDEX revisions_object ON revisions (kind, name, id);

CREATE TABLE published (
    gateway   TEXT    NOT NULL,
    version   INTEGER NOT NULL CHECK (version > 0),
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    note      TEXT    NOT NULL DEFAULT '',
    workspace TEXT    NOT NULL,
    PRIMARY KEY (gateway, version)
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    role       TEXT    NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    hash       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used  INTEGER
);

CREATE TABLE sessions (
    hash       TEXT    PRIMARY KEY,
    user       TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    csrf       TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT    NOT NULL,
    detail TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE settings (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL
) WITHOUT ROWID;
