-- Foundation schema: extensions every later migration relies on, and the table the
-- diagnostic round-trip workflow writes to.

-- pgvector holds the passage embeddings (see the pipeline and chat issues).
CREATE EXTENSION IF NOT EXISTS vector;

-- One row per diagnostic ping workflow: proof that API, Temporal, worker and PostgreSQL
-- are wired together. Keyed by workflow ID so a retried activity writes no second row.
CREATE TABLE diagnostic_pings (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id text        NOT NULL UNIQUE,
    message     text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
