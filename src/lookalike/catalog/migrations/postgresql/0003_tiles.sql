-- Tiles of sprite and tile sheets (see ../sqlite/0003_tiles.sql).
ALTER TABLE occurrence ADD COLUMN parent_id BIGINT REFERENCES image(id) ON DELETE SET NULL;
ALTER TABLE occurrence ADD COLUMN box TEXT;
