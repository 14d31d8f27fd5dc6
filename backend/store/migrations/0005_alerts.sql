-- Alerting. Rules and notifiers are configuration like the rest of this
-- database: backed up with it, their credentials sealed with its master
-- key and resealed by a key rotation. Incidents change only when a rule
-- fires or resolves, a rate this database's durable writes afford; the
-- request log's own database holds the traffic they are measured on.
CREATE TABLE alert_rules (
    name       TEXT    PRIMARY KEY,
    version    INTEGER NOT NULL CHECK (version > 0),
    spec       TEXT    NOT NULL,            -- alert.Rule JSON
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL
) WITHOUT ROWID;

CREATE TABLE alert_notifiers (
    name       TEXT    PRIMARY KEY,
    version    INTEGER NOT NULL CHECK (version > 0),
    spec       TEXT    NOT NULL,            -- alert.Notifier JSON, without credentials
    secrets    TEXT    NOT NULL,            -- alert.Secrets JSON, sealed
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL
) WITHOUT ROWID;

-- A rule's incidents go with it.
CREATE TABLE alert_incidents (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    rule           TEXT    NOT NULL REFERENCES alert_rules (name) ON DELETE CASCADE,
    summary        TEXT    NOT NULL,
    started_at     INTEGER NOT NULL,
    value          REAL    NOT NULL,
    resolved_at    INTEGER,
    resolved_value REAL,
    note           TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX alert_incidents_rule ON alert_incidents (rule, id);
-- At most one open incident per rule, whatever two processes do.
CREATE UNIQUE INDEX alert_incidents_open ON alert_incidents (rule) WHERE resolved_at IS NULL;

CREATE TABLE alert_deliveries (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    incident INTEGER NOT NULL REFERENCES alert_incidents (id) ON DELETE CASCADE,
    notifier TEXT    NOT NULL,
    event    TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    ok       INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    error    TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX alert_deliveries_incident ON alert_deliveries (incident, id);
