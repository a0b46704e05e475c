-- haimaker's own tables, in a schema of their own: LiteLLM never reads them, and its Prisma
-- schema diff (which looks only at its own schema) never sees them, so LiteLLM's migrate still
-- accepts a database haimaker created.
CREATE SCHEMA IF NOT EXISTS haimaker;

-- The spend idempotency ledger, used when spend logs are disabled (with spend logs on, the
-- LiteLLM_SpendLogs row keyed by request_id plays this part): a retried spend flush skips the
-- requests already recorded here, so it never double counts. applied_at lets old rows be
-- pruned.
CREATE TABLE IF NOT EXISTS haimaker.spend_applied (
    request_id TEXT NOT NULL,
    applied_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT spend_applied_pkey PRIMARY KEY (request_id)
);

CREATE INDEX IF NOT EXISTS spend_applied_applied_at_idx ON haimaker.spend_applied (applied_at);
