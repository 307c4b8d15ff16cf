-- +goose Up
-- Enrollment pattern names are unique ignoring case, as lookups by name
-- already ignore it: name_key holds lower(name) under a unique index.
-- A database holding names that differ only in case cannot take the index;
-- the migration then fails and names the index, and an administrator renames
-- one of the patterns first.
ALTER TABLE enrollment_patterns ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE enrollment_patterns SET name_key = lower(name);
CREATE UNIQUE INDEX enrollment_patterns_name_ci ON enrollment_patterns(name_key);

-- +goose Down
DROP INDEX enrollment_patterns_name_ci;
ALTER TABLE enrollment_patterns DROP COLUMN name_key;
