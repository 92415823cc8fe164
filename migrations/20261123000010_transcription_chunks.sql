-- The synchronous provider (Whisper) is called chunk by chunk. Each finished chunk's
-- segments are kept here, already offset to the recording's clock, so that an activity
-- retried after a worker crash sends only the chunks that were not finished; the stitched
-- transcript then goes to transcript_segments like any other.
CREATE TABLE transcription_chunks (
    job_id       uuid NOT NULL REFERENCES transcription_jobs (id) ON DELETE CASCADE,
    chunk_index  integer NOT NULL CHECK (chunk_index >= 0),
    org_id       uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    start_ms     bigint NOT NULL CHECK (start_ms >= 0),
    end_ms       bigint NOT NULL CHECK (end_ms >= start_ms),
    language     text,
    segments     jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, chunk_index)
);

ALTER TABLE transcription_chunks ENABLE ROW LEVEL SECURITY;
CREATE POLICY transcription_chunk_scope ON transcription_chunks
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());
