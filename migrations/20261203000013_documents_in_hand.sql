-- Documents people read and edit: one document per recording with numbered versions that
-- are never rewritten, templates (org-scoped plus read-only built-ins), regenerations as
-- their own runs, and speaker names over the transcript's labels.

-- Templates: the instructions and sections a document is written with. `org_id` NULL marks
-- a built-in, which every org reads (and may copy) but none may change.
CREATE TABLE templates (
    id            uuid PRIMARY KEY,
    org_id        uuid REFERENCES orgs (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description   text NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
    instructions  text NOT NULL DEFAULT '' CHECK (length(instructions) <= 8000),
    -- Extra `##` sections, in order, between the summary and the key points.
    sections      text[] NOT NULL DEFAULT '{}' CHECK (cardinality(sections) <= 20),
    is_default    boolean NOT NULL DEFAULT false CHECK (NOT (is_default AND org_id IS NULL)),
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX templates_org ON templates (org_id, name);
-- At most one default per org.
CREATE UNIQUE INDEX templates_one_default ON templates (org_id) WHERE is_default;

ALTER TABLE templates ENABLE ROW LEVEL SECURITY;
CREATE POLICY template_scope ON templates
    USING (org_id = app_org_id() OR org_id IS NULL) WITH CHECK (org_id = app_org_id());

-- The built-ins, with fixed IDs so clients and tests can name them.
INSERT INTO templates (id, org_id, name, description, instructions, sections) VALUES
('00000000-0000-7000-8000-000000000001', NULL, 'Meeting notes',
 'Decisions, discussion and owners of a meeting.',
 'Write for colleagues who missed the meeting. Lead with what was decided.',
 '{Decisions,Discussion}'),
('00000000-0000-7000-8000-000000000002', NULL, 'How-to / tutorial',
 'Step-by-step instructions from a walkthrough or demo.',
 'Write numbered steps a reader can follow without the video; cite the moment each step is shown.',
 '{Prerequisites,Steps,Troubleshooting}'),
('00000000-0000-7000-8000-000000000003', NULL, 'Lecture notes',
 'Concepts, examples and questions from a lecture or talk.',
 'Write study notes: define each concept in plain words and keep the examples.',
 '{Concepts,Examples,Questions}'),
('00000000-0000-7000-8000-000000000004', NULL, 'Interview',
 'Background, questions and answers, and themes of an interview.',
 'Attribute every answer to its speaker; keep quotes short and exact.',
 '{Background,"Questions and answers",Themes}'),
('00000000-0000-7000-8000-000000000005', NULL, 'Customer call',
 'Context, pain points, requests and commitments from a customer call.',
 'Write for the account team: what the customer needs, what we promised, and by when.',
 '{"Customer context","Pain points",Requests,Commitments}'),
('00000000-0000-7000-8000-000000000006', NULL, 'Incident review',
 'Timeline, impact, root cause and remediation of an incident.',
 'Write a blameless review: facts in time order, then causes, then follow-ups.',
 '{Timeline,Impact,"Root cause",Remediation}');

-- Each org's house template becomes its default template.
INSERT INTO templates (id, org_id, name, instructions, sections, is_default, updated_at)
SELECT gen_random_uuid(), org_id, 'House template', instructions, sections, true, updated_at
FROM document_templates;
DROP TABLE document_templates;

-- The template a recording's document is to be written with; NULL means the org default at
-- generation time (or meeting notes).
ALTER TABLE recordings ADD COLUMN template_id uuid REFERENCES templates (id) ON DELETE SET NULL;

-- What were rows per version become `document_versions`; `documents` is now the one
-- document of a recording. A document keeps the ID of its version 1, which is the ID
-- `document.ready` events have always carried.
ALTER TABLE documents RENAME TO document_versions;
ALTER INDEX documents_org RENAME TO document_versions_org;
ALTER POLICY document_scope ON document_versions RENAME TO document_version_scope;

CREATE TABLE documents (
    id               uuid PRIMARY KEY,
    org_id           uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    recording_id     uuid NOT NULL UNIQUE REFERENCES recordings (id) ON DELETE CASCADE,
    -- NULL until a generation succeeds: a first generation that failed leaves a document
    -- with no version, status `failed` and the reason.
    current_version  integer CHECK (current_version >= 1),
    status           text NOT NULL CHECK (status IN ('draft', 'published', 'failed')),
    status_reason    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    published_at     timestamptz,
    CHECK (status = 'failed' OR current_version IS NOT NULL)
);
CREATE INDEX documents_org_updated ON documents (org_id, updated_at, id);

INSERT INTO documents (id, org_id, recording_id, current_version, status, created_at, updated_at, published_at)
SELECT v1.id, v1.org_id, v1.recording_id, latest.version, v1.status, v1.created_at,
       latest.created_at, v1.published_at
FROM document_versions v1
JOIN LATERAL (SELECT version, created_at FROM document_versions l
              WHERE l.recording_id = v1.recording_id ORDER BY version DESC LIMIT 1) latest ON true
WHERE v1.version = 1;

ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
CREATE POLICY document_scope ON documents
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());

-- A regeneration run: one at a time per recording, found again by its Idempotency-Key.
CREATE TABLE document_generations (
    id               uuid PRIMARY KEY,
    org_id           uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    recording_id     uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    template_id      uuid REFERENCES templates (id) ON DELETE SET NULL,
    -- Extra instructions for this run only, fenced as untrusted like the template.
    instructions     text NOT NULL DEFAULT '' CHECK (octet_length(instructions) <= 102400),
    idempotency_key  text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    status           text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    error            text,
    -- The version it wrote.
    version          integer,
    requested_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    UNIQUE (recording_id, idempotency_key)
);
CREATE UNIQUE INDEX document_generations_one_running ON document_generations (recording_id)
    WHERE status = 'running';
CREATE INDEX document_generations_org ON document_generations (org_id);

ALTER TABLE document_generations ENABLE ROW LEVEL SECURITY;
CREATE POLICY document_generation_scope ON document_generations
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());

ALTER TABLE document_versions
    ADD COLUMN document_id uuid REFERENCES documents (id) ON DELETE CASCADE,
    ADD COLUMN source text NOT NULL DEFAULT 'generated'
        CHECK (source IN ('generated', 'edit', 'restore', 'regenerated')),
    ADD COLUMN author_id uuid REFERENCES users (id) ON DELETE SET NULL,
    -- The template it was written with, and its name, which outlives the template.
    ADD COLUMN template_id uuid REFERENCES templates (id) ON DELETE SET NULL,
    ADD COLUMN template_name text,
    -- A regenerated version names its run, which makes writing it idempotent.
    ADD COLUMN generation_id uuid UNIQUE REFERENCES document_generations (id) ON DELETE SET NULL,
    -- A restore names the version it copied.
    ADD COLUMN restored_from integer;
UPDATE document_versions v SET document_id = d.id FROM documents d WHERE d.recording_id = v.recording_id;
ALTER TABLE document_versions
    ALTER COLUMN document_id SET NOT NULL,
    DROP CONSTRAINT documents_check,
    DROP COLUMN status,
    DROP COLUMN published_at,
    -- An edit or a restore has no model.
    ALTER COLUMN model DROP NOT NULL,
    ADD CONSTRAINT document_versions_bounded CHECK (octet_length(markdown) <= 1048576);
ALTER TABLE document_versions RENAME CONSTRAINT documents_recording_id_version_key
    TO document_versions_recording_version;
CREATE UNIQUE INDEX document_versions_document_version ON document_versions (document_id, version);

-- Full text over a document's title and Markdown, for `GET /api/documents?q=`.
CREATE INDEX document_versions_search ON document_versions
    USING gin (to_tsvector('english', title || ' ' || markdown));

-- Names given to the transcript's speaker labels ({"A": "Alice"}), applied wherever a
-- speaker is shown; the segments keep the provider's labels.
ALTER TABLE transcripts ADD COLUMN speaker_names jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(speaker_names) = 'object');

-- A recording made with an API key names the key, so the key counts as its creator for the
-- rule that only the creator (or an admin) changes a recording.
ALTER TABLE recordings ADD COLUMN created_by_api_key uuid REFERENCES api_keys (id) ON DELETE SET NULL;
