-- Ready mails (camkey-outbox): the text of mails queued whole (the vendor front end's
-- replies and desk mails). Only a database that queues such mails applies this: the
-- signer's never does, so its outbox has no room for a code.
ALTER TABLE outbox ADD COLUMN subject TEXT;
ALTER TABLE outbox ADD COLUMN body TEXT;
