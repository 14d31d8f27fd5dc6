-- Route tests: saved requests with expectations, one row per test. They are
-- not part of the draft workspace (publishing does not record them and a
-- rollback leaves them alone), but every write is a revision like any other.
CREATE TABLE route_tests (
    name       TEXT    PRIMARY KEY,
    gateway    TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version > 0),
    spec       TEXT    NOT NULL,             -- test JSON without name/version
    updated_at INTEGER NOT NULL,             -- unix nanoseconds, UTC
    updated_by TEXT    NOT NULL
) WITHOUT ROWID;

CREATE INDEX route_tests_gateway ON route_tests (gateway, name);
