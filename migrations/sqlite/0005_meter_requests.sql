-- Monthly meter requests (the customer portal issue): the request e-mail names a Reply-To that
-- carries its signed token, so that the answer finds its request.
ALTER TABLE outbound_emails ADD COLUMN reply_to TEXT;
