-- A digest of each published version's objects (kind, name, version and
-- time of last change of each), so a publish of a draft equal to the live
-- version is recognised without decoding that version. Versions written
-- before this column have none and never compare equal.
ALTER TABLE published ADD COLUMN digest TEXT;
