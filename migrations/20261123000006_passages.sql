-- Passages: a recording's transcript cut into overlapping spans of a few hundred tokens,
-- each with its embedding, for retrieval (pgvector) and keyword search (full text).
--
-- One row per (recording, model, passage index). Vectors of different models never mix, so
-- each row names the model that made it, and every search is restricted to one model. The
-- embed activity upserts on that key (so a retry keeps the rows and their ids) and deletes
-- the indexes beyond the new count (so a shorter transcript leaves no strays).

CREATE TABLE passages (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id        uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    recording_id  uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    idx           integer NOT NULL CHECK (idx >= 0),
    -- The transcript segments the passage spans (`transcript_segments.idx`), for citations.
    first_segment integer NOT NULL,
    last_segment  integer NOT NULL CHECK (last_segment >= first_segment),
    start_ms      bigint NOT NULL CHECK (start_ms >= 0),
    end_ms        bigint NOT NULL CHECK (end_ms >= start_ms),
    text          text NOT NULL,
    -- cl100k_base tokens of `text`.
    tokens        integer NOT NULL,
    model         text NOT NULL,
    dimension     integer NOT NULL CHECK (dimension > 0),
    -- No fixed dimension: models differ (384 for all-MiniLM-L6-v2, 1536 for
    -- text-embedding-3-small). The indexes below fix it per model.
    embedding     vector NOT NULL CHECK (vector_dims(embedding) = dimension),
    tsv           tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (recording_id, model, idx)
);
CREATE INDEX passages_org_recording ON passages (org_id, recording_id);
CREATE INDEX passages_tsv ON passages USING gin (tsv);

-- Approximate nearest neighbours, one HNSW index per model. A `vector` column without a
-- dimension cannot be indexed, so each index casts to its model's dimension and is partial on
-- the model: a query uses it only when it repeats both, i.e. `WHERE model = '<literal>'` and
-- `ORDER BY embedding::vector(<dim>) <=> $query` (see activities/src/embedding/store.rs).
-- The model must be a literal in the query text, not a bind parameter: a generic plan cannot
-- prove the partial predicate. To add a model, add its index in a new migration, e.g.
--   CREATE INDEX passages_te3small_hnsw ON passages
--       USING hnsw ((embedding::vector(1536)) vector_cosine_ops)
--       WHERE model = 'text-embedding-3-small';
-- (HNSW takes at most 2000 dimensions; for larger models cast to halfvec(n) instead.)
-- Cosine distance, because both embedders return normalised vectors and the OpenAI models
-- are documented for cosine similarity.
CREATE INDEX passages_minilm_hnsw ON passages
    USING hnsw ((embedding::vector(384)) vector_cosine_ops)
    WHERE model = 'all-MiniLM-L6-v2';

-- Row-level security like every tenant table: the worker and the API see only the org of
-- their transaction. ENABLE but not FORCE, for the reason at the end of the transcription
-- migration: FORCE binds the owner too, which breaks SECURITY DEFINER lookups wherever the
-- owner is not a superuser; the application never connects as the owner.
ALTER TABLE passages ENABLE ROW LEVEL SECURITY;
CREATE POLICY passage_scope ON passages
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());
