-- Identity and tenancy: users, orgs, memberships, invites, sessions (refresh-token families)
-- and API keys, plus the role the application connects as and row-level security.
--
-- The application never connects as the owner of these tables. It logs in as a role that is
-- a member of `mediadocs_app`, which has neither SUPERUSER nor BYPASSRLS, so every tenant
-- table's policy applies to it. Policies read two transaction-local settings that the
-- application sets at the start of each transaction:
--   app.org_id   the org the request acts in
--   app.user_id  the authenticated user (to list their own memberships across orgs)
-- With neither set, a tenant table shows no rows.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mediadocs_app') THEN
        CREATE ROLE mediadocs_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
END
$$;

-- Settings as uuids; an unset or empty setting becomes NULL, and NULL matches nothing.
CREATE FUNCTION app_org_id() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('app.org_id', true), '')::uuid $$;
CREATE FUNCTION app_user_id() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;

-- A person. Global: one account may belong to many orgs. Emails are stored lower-cased.
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE CHECK (email = lower(email)),
    name          text NOT NULL DEFAULT '',
    -- PHC string, argon2id.
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orgs (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    org_id     uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

-- Single-use invitations. Only the token's SHA-256 is stored.
CREATE TABLE invites (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    email       text NOT NULL CHECK (email = lower(email)),
    role        text NOT NULL CHECK (role IN ('admin', 'member')),
    token_hash  bytea NOT NULL UNIQUE,
    invited_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz
);

-- A login: every refresh token descended from it shares the family. Revoking the family
-- (logout, or reuse of a spent refresh token) ends all of them, and the access tokens that
-- carry its id.
CREATE TABLE session_families (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id     uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    revoked_reason text
);

-- Refresh tokens: opaque, stored as SHA-256, each usable once.
CREATE TABLE refresh_tokens (
    id         uuid PRIMARY KEY,
    family_id  uuid NOT NULL REFERENCES session_families (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Machine credentials. Shown once; `prefix` stays visible so people can tell keys apart.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name         text NOT NULL,
    role         text NOT NULL CHECK (role IN ('admin', 'member')),
    prefix       text NOT NULL,
    key_hash     bytea NOT NULL UNIQUE,
    created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_org ON api_keys (org_id, created_at, id);

-- Row-level security on every tenant table.
ALTER TABLE orgs ENABLE ROW LEVEL SECURITY;
ALTER TABLE orgs FORCE ROW LEVEL SECURITY;
ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
ALTER TABLE invites ENABLE ROW LEVEL SECURITY;
ALTER TABLE invites FORCE ROW LEVEL SECURITY;
ALTER TABLE session_families ENABLE ROW LEVEL SECURITY;
ALTER TABLE session_families FORCE ROW LEVEL SECURITY;
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;

-- An org is visible inside itself, and to its members (to list "my orgs").
CREATE POLICY org_scope ON orgs
    USING (id = app_org_id()
           OR id IN (SELECT org_id FROM memberships WHERE user_id = app_user_id()))
    WITH CHECK (id = app_org_id());
-- Memberships: the org's own, plus the caller's own in other orgs (read-only there).
CREATE POLICY membership_scope ON memberships
    USING (org_id = app_org_id() OR user_id = app_user_id())
    WITH CHECK (org_id = app_org_id());
CREATE POLICY invite_scope ON invites USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());
CREATE POLICY session_scope ON session_families
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());
CREATE POLICY api_key_scope ON api_keys USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());

-- Lookups that happen before the org is known (a bearer credential or an invite token is
-- all the caller has). SECURITY DEFINER runs them as the owner, past row-level security;
-- each returns only the row matching a secret the caller already holds.
CREATE FUNCTION auth_api_key(p_key_hash bytea)
RETURNS TABLE (id uuid, org_id uuid, role text)
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    UPDATE api_keys SET last_used_at = now()
    WHERE key_hash = p_key_hash AND revoked_at IS NULL
    RETURNING id, org_id, role
$$;

CREATE FUNCTION auth_refresh_token(p_token_hash bytea)
RETURNS TABLE (id uuid, family_id uuid, user_id uuid, org_id uuid, expires_at timestamptz,
               used_at timestamptz, revoked_at timestamptz)
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    SELECT t.id, t.family_id, f.user_id, f.org_id, t.expires_at, t.used_at, f.revoked_at
    FROM refresh_tokens t JOIN session_families f ON f.id = t.family_id
    WHERE t.token_hash = p_token_hash
$$;

CREATE FUNCTION find_invite(p_token_hash bytea)
RETURNS TABLE (id uuid, org_id uuid, email text, role text, expires_at timestamptz,
               accepted_at timestamptz)
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    SELECT id, org_id, email, role, expires_at, accepted_at FROM invites WHERE token_hash = p_token_hash
$$;

-- A user's default org at login: the oldest membership.
CREATE FUNCTION default_org(p_user_id uuid)
RETURNS TABLE (org_id uuid, role text)
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    SELECT org_id, role FROM memberships WHERE user_id = p_user_id ORDER BY created_at, org_id LIMIT 1
$$;

REVOKE ALL ON FUNCTION auth_api_key(bytea), auth_refresh_token(bytea), find_invite(bytea),
    default_org(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_api_key(bytea), auth_refresh_token(bytea), find_invite(bytea),
    default_org(uuid), app_org_id(), app_user_id() TO mediadocs_app;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO mediadocs_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO mediadocs_app;
-- Tables added by later migrations get the same grants.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO mediadocs_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO mediadocs_app;
-- ...but never the migration ledger.
REVOKE ALL ON _sqlx_migrations FROM mediadocs_app;
