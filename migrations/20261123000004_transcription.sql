-- Transcription: the provider jobs of each recording, the webhook deliveries that report on
-- them, and the transcript they produce.

-- One provider job per transcription attempt of a recording, and an attempt per pipeline
-- run: a retried activity finds its run's job, while a retry or a reset (a new run) gets a
-- new one. Our own `id` is minted before the provider is called, so the callback URL can
-- carry it (with its HMAC token).
CREATE TABLE transcription_jobs (
    id               uuid PRIMARY KEY,
    org_id           uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    recording_id     uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    attempt          integer NOT NULL CHECK (attempt >= 1),
    run_id           text NOT NULL,
    provider         text NOT NULL CHECK (provider IN ('assemblyai', 'deepgram', 'selfhosted', 'whisper')),
    -- Set once the provider accepted the job (or by an early callback, which names it).
    provider_job_id  text,
    status           text NOT NULL DEFAULT 'submitting'
                         CHECK (status IN ('submitting', 'submitted', 'completed', 'failed')),
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (recording_id, attempt),
    UNIQUE (recording_id, run_id),
    UNIQUE (provider, provider_job_id)
);
CREATE INDEX transcription_jobs_org ON transcription_jobs (org_id);

-- Each webhook delivery, once. Providers retry and duplicate; the key makes a repeat a
-- no-op. `signalled_at` stays NULL until the workflow has been told, so a delivery whose
-- signal failed (Temporal down: we answered 5xx) is signalled when the provider retries.
CREATE TABLE transcription_deliveries (
    provider      text NOT NULL,
    -- webhook-id (Standard Webhooks), or the provider's job ID and status.
    delivery_key  text NOT NULL,
    job_id        uuid NOT NULL REFERENCES transcription_jobs (id) ON DELETE CASCADE,
    org_id        uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    provider_job_id text NOT NULL,
    status        text NOT NULL CHECK (status IN ('completed', 'failed')),
    -- Only for providers whose callback is the result (Deepgram), which nobody keeps for us.
    payload       jsonb,
    received_at   timestamptz NOT NULL DEFAULT now(),
    signalled_at  timestamptz,
    PRIMARY KEY (provider, delivery_key)
);
CREATE INDEX transcription_deliveries_job ON transcription_deliveries (job_id, received_at);

-- The transcript of a recording: its summary row and its timed segments. Rewritten whole,
-- in one transaction, so a retried fetch never leaves a mix of two results.
CREATE TABLE transcripts (
    recording_id   uuid PRIMARY KEY REFERENCES recordings (id) ON DELETE CASCADE,
    org_id         uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    job_id         uuid NOT NULL REFERENCES transcription_jobs (id) ON DELETE CASCADE,
    provider       text NOT NULL,
    language       text,
    duration_ms    bigint,
    segment_count  integer NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transcripts_org ON transcripts (org_id);

CREATE TABLE transcript_segments (
    recording_id  uuid NOT NULL REFERENCES transcripts (recording_id) ON DELETE CASCADE,
    org_id        uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    idx           integer NOT NULL CHECK (idx >= 0),
    start_ms      bigint NOT NULL CHECK (start_ms >= 0),
    end_ms        bigint NOT NULL CHECK (end_ms >= start_ms),
    text          text NOT NULL,
    speaker       text,
    confidence    real,
    PRIMARY KEY (recording_id, idx)
);

ALTER TABLE transcription_jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY transcription_job_scope ON transcription_jobs
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());
ALTER TABLE transcription_deliveries ENABLE ROW LEVEL SECURITY;
CREATE POLICY transcription_delivery_scope ON transcription_deliveries
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());
ALTER TABLE transcripts ENABLE ROW LEVEL SECURITY;
CREATE POLICY transcript_scope ON transcripts
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());
ALTER TABLE transcript_segments ENABLE ROW LEVEL SECURITY;
CREATE POLICY transcript_segment_scope ON transcript_segments
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());

-- The webhook endpoint knows a job ID (authenticated by its token) but not the org; this
-- finds the org, past row-level security, for that one job.
CREATE FUNCTION webhook_job(p_job_id uuid)
RETURNS TABLE (org_id uuid, recording_id uuid, provider text, provider_job_id text)
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    SELECT org_id, recording_id, provider, provider_job_id FROM transcription_jobs WHERE id = p_job_id
$$;
REVOKE ALL ON FUNCTION webhook_job(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION webhook_job(uuid) TO mediadocs_app;

-- The lookups that run before the org is known (webhook_job here; auth_api_key,
-- auth_refresh_token, find_invite and default_org from the identity migration) are
-- SECURITY DEFINER so that they run as the tables' owner, past row-level security. FORCE
-- ROW LEVEL SECURITY made the policies bind the owner too, so wherever the owner is not a
-- superuser (the dev stack, docker-compose) those lookups found nothing: logging in failed
-- to find a default org. The owner is the migration role, which the application never
-- connects as (a test checks that it owns nothing), so RLS still binds every application
-- query.
ALTER TABLE orgs NO FORCE ROW LEVEL SECURITY;
ALTER TABLE memberships NO FORCE ROW LEVEL SECURITY;
ALTER TABLE invites NO FORCE ROW LEVEL SECURITY;
ALTER TABLE session_families NO FORCE ROW LEVEL SECURITY;
ALTER TABLE api_keys NO FORCE ROW LEVEL SECURITY;
ALTER TABLE recordings NO FORCE ROW LEVEL SECURITY;
