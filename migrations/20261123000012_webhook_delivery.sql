-- The transcription webhook's database work in two round trips instead of eleven: one call
-- finds the job, checks the callback against it and records the delivery; another marks it
-- signalled once the workflow has it. At a few hundred callbacks a second on two cores, the
-- round trips (and their transactions) were most of the endpoint's cost.
--
-- SECURITY DEFINER for the same reason as webhook_job, which this replaces: the endpoint knows
-- a job ID, authenticated by its URL token, but not the org.

-- outcome: 'unknown' (no such job), 'mismatch' (the callback names another recording,
-- provider or provider job), 'new' (recorded, or recorded before but never signalled: the
-- last attempt answered 5xx), or 'duplicate' (recorded and signalled before).
CREATE FUNCTION record_transcription_delivery(
    p_job_id uuid,
    p_recording_id uuid,
    p_provider text,
    p_delivery_key text,
    p_provider_job_id text,
    p_status text,
    p_payload jsonb
) RETURNS TABLE (outcome text, org_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    job transcription_jobs%ROWTYPE;
    signalled timestamptz;
BEGIN
    SELECT * INTO job FROM transcription_jobs WHERE id = p_job_id;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'unknown'::text, NULL::uuid;
        RETURN;
    END IF;
    IF job.recording_id <> p_recording_id OR job.provider <> p_provider
       OR job.provider_job_id <> p_provider_job_id THEN
        RETURN QUERY SELECT 'mismatch'::text, job.org_id;
        RETURN;
    END IF;
    INSERT INTO transcription_deliveries
        (provider, delivery_key, job_id, org_id, provider_job_id, status, payload)
    VALUES (p_provider, p_delivery_key, p_job_id, job.org_id, p_provider_job_id, p_status, p_payload)
    ON CONFLICT (provider, delivery_key) DO NOTHING;
    -- An early callback can beat the submit activity to recording the provider's job ID.
    IF job.provider_job_id IS NULL THEN
        UPDATE transcription_jobs SET provider_job_id = p_provider_job_id, updated_at = now()
        WHERE id = p_job_id AND provider_job_id IS NULL;
    END IF;
    SELECT d.signalled_at INTO signalled FROM transcription_deliveries d
    WHERE d.provider = p_provider AND d.delivery_key = p_delivery_key;
    RETURN QUERY SELECT CASE WHEN signalled IS NULL THEN 'new' ELSE 'duplicate' END, job.org_id;
END
$$;
REVOKE ALL ON FUNCTION record_transcription_delivery(uuid, uuid, text, text, text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION record_transcription_delivery(uuid, uuid, text, text, text, text, jsonb) TO mediadocs_app;

CREATE FUNCTION mark_transcription_delivery_signalled(p_provider text, p_delivery_key text)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    UPDATE transcription_deliveries SET signalled_at = now()
    WHERE provider = p_provider AND delivery_key = p_delivery_key AND signalled_at IS NULL
$$;
REVOKE ALL ON FUNCTION mark_transcription_delivery_signalled(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mark_transcription_delivery_signalled(text, text) TO mediadocs_app;

DROP FUNCTION webhook_job(uuid);
