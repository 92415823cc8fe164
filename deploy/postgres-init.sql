-- Run once by the postgres image on an empty volume (docker-compose.yml mounts it into
-- /docker-entrypoint-initdb.d). `mediadocs` (POSTGRES_USER) owns the schema and runs the
-- migrations; the API and worker log in as `mediadocs_api`, which owns nothing, so
-- row-level security applies to every query they make.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE ROLE mediadocs_app NOLOGIN;
CREATE ROLE mediadocs_api LOGIN PASSWORD 'mediadocs-api' IN ROLE mediadocs_app;
