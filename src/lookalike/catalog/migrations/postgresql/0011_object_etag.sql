-- Objects in a bucket (s3://, gs://, az://) are remembered by size and ETag, not by mtime:
-- an object whose ETag and size are unchanged is not downloaded again.
ALTER TABLE file_state ADD COLUMN etag TEXT;
