-- The transcript cut into prompt-sized chunks, once, by the document stage's plan step.
-- Each map step reads its own chunk here instead of re-reading and re-tokenising the whole
-- transcript, which made the map phase quadratic in the recording's length. A cut is valid
-- for the transcript it was made from (its job) and the prompt size it was made for.
CREATE TABLE document_chunks (
    recording_id  uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    org_id        uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    idx           integer NOT NULL CHECK (idx >= 0),
    job_id        uuid NOT NULL,
    chunk_tokens  integer NOT NULL CHECK (chunk_tokens > 0),
    start_ms      bigint NOT NULL CHECK (start_ms >= 0),
    end_ms        bigint NOT NULL CHECK (end_ms >= start_ms),
    text          text NOT NULL,
    tokens        integer NOT NULL CHECK (tokens >= 0),
    PRIMARY KEY (recording_id, idx)
);

ALTER TABLE document_chunks ENABLE ROW LEVEL SECURITY;
CREATE POLICY document_chunk_scope ON document_chunks
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());
