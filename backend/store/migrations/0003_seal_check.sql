-- One value sealed under the master key the database's secrets are sealed
-- with. The store opens it on every start, so a wrong or lost key is
-- reported at once rather than on the first read of a secret. The row is
-- written once every secret an earlier version left in clear is sealed,
-- so its absence means that migration still has to run.
CREATE TABLE seal_check (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    sealed TEXT    NOT NULL
);
