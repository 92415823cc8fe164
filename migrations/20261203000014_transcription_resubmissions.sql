-- A job the provider lost (a self-hosted model server restarted) is submitted again under
-- the same job ID; the count bounds how often, so a provider that keeps losing jobs fails
-- the recording instead of looping.
ALTER TABLE transcription_jobs ADD COLUMN resubmissions integer NOT NULL DEFAULT 0
    CHECK (resubmissions >= 0);
