-- Published versions move from one workspace document per version to
-- objects shared between versions (versionstore.go): blobs named by the
-- SHA-256 of their bytes, and per version a manifest of its chunks. The
-- old rows are moved by the store's code in this migration's transaction
-- (migrateWholeVersions), which drops published_whole when done.
CREATE TABLE version_blobs (
    hash BLOB PRIMARY KEY,
    body BLOB NOT NULL
) WITHOUT ROWID;

DROP INDEX published_latest;
ALTER TABLE published RENAME TO published_whole;

CREATE TABLE published (
    gateway  TEXT    NOT NULL,
    version  INTEGER NOT NULL CHECK (version > 0),
    at       INTEGER NOT NULL,
    actor    TEXT    NOT NULL,
    note     TEXT    NOT NULL DEFAULT '',
    -- workspaceDigest of the version, for the no-op publish check.
    digest   TEXT,
    manifest BLOB    NOT NULL,
    PRIMARY KEY (gateway, version)
);
