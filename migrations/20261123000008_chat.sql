-- Chat with recordings: conversations, their messages with the sources each answer was
-- given and the citations it made, and each org's LLM token use per day (for its budget).

-- A conversation belongs to whoever started it, a user or an API key, and only they see it:
-- questions asked of an org's recordings can be as private as a search history.
CREATE TABLE conversations (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id     uuid REFERENCES users (id) ON DELETE CASCADE,
    api_key_id  uuid REFERENCES api_keys (id) ON DELETE CASCADE,
    -- Whichever of the two is set: the key lists page by.
    owner_id    uuid GENERATED ALWAYS AS (coalesce(user_id, api_key_id)) STORED,
    -- The first question, shortened.
    title       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((user_id IS NULL) <> (api_key_id IS NULL))
);
CREATE INDEX conversations_owner_page ON conversations (owner_id, created_at, id);
CREATE INDEX conversations_org ON conversations (org_id);

-- One row per question and per answer. An answer that stopped early (the LLM failed
-- mid-stream, or the client went away) keeps what was written, marked `incomplete` with the
-- reason, so the history shows what the person saw.
CREATE TABLE chat_messages (
    id                      uuid PRIMARY KEY,
    org_id                  uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    conversation_id         uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role                    text NOT NULL CHECK (role IN ('user', 'assistant')),
    content                 text NOT NULL,
    -- Assistant messages: the numbered passages the model was given, as sent in the
    -- `sources` event ([{n, recording_id, recording_title, passage_id, start_ms, end_ms,
    -- snippet, score}]). Recordings deleted later leave their entries; links then 404.
    sources                 jsonb NOT NULL DEFAULT '[]',
    -- The source numbers the answer cites, each checked against `sources`; a number the
    -- model made up is dropped here (and stays visible in `content`).
    citations               integer[] NOT NULL DEFAULT '{}',
    status                  text NOT NULL DEFAULT 'complete'
                                CHECK (status IN ('complete', 'incomplete')),
    -- Why an answer is incomplete: llm_error or client_disconnected.
    stop_reason             text,
    model                   text,
    prompt_tokens           integer NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens       integer NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    time_to_first_token_ms  integer,
    -- clock_timestamp() on insert: a question and its answer written in one transaction
    -- must still sort in the order they were said.
    created_at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK ((status = 'incomplete') = (stop_reason IS NOT NULL))
);
CREATE INDEX chat_messages_page ON chat_messages (conversation_id, created_at, id);
CREATE INDEX chat_messages_org ON chat_messages (org_id);

-- LLM tokens (prompt plus completion, as the provider counted them, or our own count for an
-- answer cut short) per org per UTC day. Chat refuses new questions with 429 once the day's
-- total reaches the org's budget, before calling any provider.
CREATE TABLE llm_usage_daily (
    org_id  uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    day     date NOT NULL,
    tokens  bigint NOT NULL DEFAULT 0 CHECK (tokens >= 0),
    PRIMARY KEY (org_id, day)
);

-- How many passages an org has of a model, counted by an index-only scan: retrieval searches
-- small scopes exactly instead of through the HNSW index (see retrieval/src/vector.rs).
CREATE INDEX passages_org_model ON passages (org_id, model);

-- Row-level security as on every tenant table: enabled, not forced (see the end of the
-- transcription migration for why). The table grants come from the default privileges set
-- in the identity migration.
ALTER TABLE conversations ENABLE ROW LEVEL SECURITY;
CREATE POLICY conversation_scope ON conversations
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());
ALTER TABLE chat_messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY chat_message_scope ON chat_messages
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());
ALTER TABLE llm_usage_daily ENABLE ROW LEVEL SECURITY;
CREATE POLICY llm_usage_scope ON llm_usage_daily
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());
