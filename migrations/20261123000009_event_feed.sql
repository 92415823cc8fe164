-- Following the event feed live: WebSocket tickets, and how long the feed is kept.
--
-- A browser cannot set headers on a WebSocket, so it first trades its access token for a
-- ticket (`POST /api/ws-ticket`) and opens `/ws?ticket=…`. A ticket is 32 random bytes, of
-- which only the SHA-256 is stored; it lives 30 seconds and is spent by the first connection
-- that presents it. It is kept here rather than in an instance's memory so that the load
-- balancer may send the WebSocket to any API instance.

CREATE TABLE ws_tickets (
    ticket_hash       bytea PRIMARY KEY,
    org_id            uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The login the access token belongs to: a logout ends the connection too.
    family_id         uuid NOT NULL REFERENCES session_families (id) ON DELETE CASCADE,
    -- When the access token behind the ticket expires; the connection closes then (1008).
    token_expires_at  timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ws_tickets_expires ON ws_tickets (expires_at);

ALTER TABLE ws_tickets ENABLE ROW LEVEL SECURITY;
CREATE POLICY ws_ticket_scope ON ws_tickets
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());

-- Redeeming happens before the org is known (the ticket is all the caller has). DELETE …
-- RETURNING makes it atomic: of two connections racing with one ticket, one gets the row.
CREATE FUNCTION redeem_ws_ticket(p_ticket_hash bytea)
RETURNS TABLE (org_id uuid, user_id uuid, family_id uuid, token_expires_at timestamptz)
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    WITH spent AS (
        DELETE FROM ws_tickets WHERE ticket_hash = p_ticket_hash
        RETURNING org_id, user_id, family_id, token_expires_at, expires_at
    )
    -- An expired ticket is spent all the same, and answers nothing.
    SELECT org_id, user_id, family_id, token_expires_at FROM spent WHERE expires_at > now()
$$;

-- Retention: the feed is kept for a window (EVENTS_RETENTION_SECS, 7 days by default) so a
-- client can resume after a disconnect; older events, and tickets nobody redeemed, go. It
-- spans every org, so it runs as the owner; each API instance calls it periodically (which
-- one does it does not matter: deleting twice is harmless).
CREATE FUNCTION prune_event_feed(p_retention interval)
RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    WITH gone_tickets AS (DELETE FROM ws_tickets WHERE expires_at < now() RETURNING 1),
         gone AS (DELETE FROM events WHERE created_at < now() - p_retention RETURNING 1)
    SELECT count(*) FROM gone
$$;

REVOKE ALL ON FUNCTION redeem_ws_ticket(bytea), prune_event_feed(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION redeem_ws_ticket(bytea), prune_event_feed(interval) TO mediadocs_app;
