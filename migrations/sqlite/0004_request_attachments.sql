-- Service-request attachments (the customer portal issue): photos get a small preview image,
-- stored beside the original under the upload directory.
ALTER TABLE files ADD COLUMN thumbnail_name TEXT;
