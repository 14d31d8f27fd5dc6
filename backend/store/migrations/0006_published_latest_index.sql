-- The no-op publish check reads the latest version's digest. The digest
-- column comes after the version's workspace, megabytes for a large
-- gateway, which SQLite would walk page by page to reach it; this index
-- answers the check by itself.
CREATE INDEX published_latest ON published (gateway, version, digest);
