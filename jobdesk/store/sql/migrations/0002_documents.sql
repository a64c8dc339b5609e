-- document-processing: text chunks of the documents a job read, with their embeddings.
-- Vectors are real[] (pgvector is not available everywhere jobdesk runs);
-- similarity is computed in Python or SQL over the array.
CREATE TABLE document_chunks (
    id           bigserial PRIMARY KEY,
    job_id       uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    document     text NOT NULL,
    chunk_index  integer NOT NULL,
    content      text NOT NULL,
    char_start   integer NOT NULL,
    embedding    real[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (job_id, document, chunk_index)
);
CREATE INDEX document_chunks_document_idx ON document_chunks (document);
