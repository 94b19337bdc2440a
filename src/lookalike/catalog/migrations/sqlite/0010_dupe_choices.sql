-- A reviewer's choice for a group of duplicates (the /dupes page): 'all' (keep them all),
-- 'different' (not duplicates), or 'keep' with the image to keep instead of the suggested one.
-- A group is named by its members' ids, sorted and joined by '-'; a group that gains or loses a
-- member is another group, reviewed again. `lookalike dupes` and its actions follow the choice.
CREATE TABLE dupe_choice (
    group_key   TEXT PRIMARY KEY,
    choice      TEXT NOT NULL,
    keep_id     INTEGER,
    decided_at  REAL NOT NULL
);
