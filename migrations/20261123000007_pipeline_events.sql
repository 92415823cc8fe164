-- What happened to each recording, for people and for operators.
--
-- `pipeline_events` is the pipeline's own log: one row per stage transition, so the
-- question "where did recording X spend its time, and where did it fail?" has an answer in
-- SQL as well as in the Temporal UI.
--
-- `events` is the feed that clients follow live (WebSocket/SSE): each row is written in the
-- same transaction as the state change it reports, and its id orders the feed, so a client
-- that reconnects with the last id it saw misses nothing. A NOTIFY on `mediadocs_events`
-- wakes the API instances that fan events out.

CREATE TABLE pipeline_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id        uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    recording_id  uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    stage         text NOT NULL CHECK (stage IN ('verify', 'transcribe', 'generate', 'embed', 'publish')),
    status        text NOT NULL CHECK (status IN ('started', 'completed', 'failed')),
    detail        jsonb NOT NULL DEFAULT '{}',
    -- The workflow run that reported it: a retried activity writes its row once per run, and a
    -- reset (a new run) logs its stages again.
    run_id        text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pipeline_events_recording ON pipeline_events (recording_id, id);
CREATE UNIQUE INDEX pipeline_events_once ON pipeline_events (recording_id, run_id, stage, status);

CREATE TABLE events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    -- Set when only one user should see the event; NULL means the whole org.
    user_id     uuid REFERENCES users (id) ON DELETE CASCADE,
    type        text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_org ON events (org_id, id);
CREATE INDEX events_created ON events (created_at);

ALTER TABLE pipeline_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY pipeline_event_scope ON pipeline_events
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
CREATE POLICY event_scope ON events
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());

-- The row's id and org are all a listener needs; it reads the row itself, under its own
-- org's policy, so the payload never travels outside PostgreSQL's access control.
CREATE FUNCTION notify_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mediadocs_events', json_build_object('id', NEW.id, 'org_id', NEW.org_id)::text);
    RETURN NEW;
END
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION notify_event();
