-- Tiles: a cell of a sprite or tile sheet, split off at ingest (ingest.tiles), is an image of its
-- own (content-hashed like any other); its occurrence, "sheet.png#tile=x,y,w,h", points at the
-- sheet's image and says where in it the tile lies.
ALTER TABLE occurrence ADD COLUMN parent_id INTEGER REFERENCES image(id) ON DELETE SET NULL;
ALTER TABLE occurrence ADD COLUMN box TEXT;  -- "x,y,w,h" in the sheet's pixels
