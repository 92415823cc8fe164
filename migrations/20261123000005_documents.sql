-- Documents: what the LLM writes from a recording's transcript, the intermediate summaries
-- of the map-reduce that gets there, and each org's optional house template.

-- The Markdown document of a recording, one row per version. The pipeline writes version 1
-- as a draft; later edits or regenerations add versions, so published text is never lost.
-- Token usage is the sum over every LLM call that went into the version (map, reduce and
-- the final pass), for cost reporting per recording.
CREATE TABLE documents (
    id                 uuid PRIMARY KEY,
    org_id             uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    recording_id       uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    version            integer NOT NULL CHECK (version >= 1),
    status             text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
    title              text NOT NULL,
    markdown           text NOT NULL,
    -- The model that wrote the final pass, as the server named it.
    model              text NOT NULL,
    prompt_tokens      bigint NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens  bigint NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    created_at         timestamptz NOT NULL DEFAULT now(),
    published_at       timestamptz,
    UNIQUE (recording_id, version),
    CHECK ((status = 'published') = (published_at IS NOT NULL))
);
CREATE INDEX documents_org ON documents (org_id, created_at);

-- Intermediate summaries, kept here rather than in the workflow's history (which only
-- carries their token counts). Level 0 summarises transcript chunk `idx`; level n+1 merges
-- a run of level-n summaries. The key makes every map and reduce step idempotent: a retried
-- activity overwrites its own row. `source_hash` fingerprints the step's input, so a stored
-- summary is reused only while the transcript (or the summaries below it) are unchanged.
CREATE TABLE document_summaries (
    recording_id       uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    org_id             uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    level              integer NOT NULL CHECK (level >= 0),
    idx                integer NOT NULL CHECK (idx >= 0),
    text               text NOT NULL,
    -- The stretch of the recording the summary covers.
    start_ms           bigint NOT NULL CHECK (start_ms >= 0),
    end_ms             bigint NOT NULL CHECK (end_ms >= start_ms),
    source_hash        text NOT NULL,
    model              text NOT NULL,
    prompt_tokens      integer NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens  integer NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (recording_id, level, idx)
);
CREATE INDEX document_summaries_org ON document_summaries (org_id);

-- An org's own instructions for its documents (tone, audience, extra sections). Optional:
-- without a row the default template applies. The required structure (title, summary, key
-- points, action items, timestamps) and the safety rules always apply on top.
CREATE TABLE document_templates (
    org_id        uuid PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
    instructions  text NOT NULL DEFAULT '' CHECK (length(instructions) <= 4000),
    -- Extra `##` sections, in order, between the summary and the key points.
    sections      text[] NOT NULL DEFAULT '{}' CHECK (cardinality(sections) <= 12),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Row-level security as on every tenant table: enabled, not forced (see the end of the
-- transcription migration for why).
ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
CREATE POLICY document_scope ON documents
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());
ALTER TABLE document_summaries ENABLE ROW LEVEL SECURITY;
CREATE POLICY document_summary_scope ON document_summaries
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());
ALTER TABLE document_templates ENABLE ROW LEVEL SECURITY;
CREATE POLICY document_template_scope ON document_templates
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());
