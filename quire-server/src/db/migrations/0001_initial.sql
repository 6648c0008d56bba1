-- Runs, their jobs and commands, and every request for a secret.
-- Timestamps are RFC 3339 UTC strings with nanoseconds.

CREATE TABLE runs (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    repo           TEXT NOT NULL,
    ref            TEXT NOT NULL,
    sha            TEXT NOT NULL,
    previous_sha   TEXT,
    pushed_at      TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN
                     ('pending', 'active', 'complete', 'failed',
                      'superseded')),
    failure_reason TEXT,
    created_at     TEXT NOT NULL,
    started_at     TEXT,
    finished_at    TEXT,
    token_hash     BLOB,
    transport      TEXT NOT NULL CHECK (transport IN ('filesystem', 'api')),
    runner_pid     INTEGER
);

CREATE INDEX runs_by_state ON runs (state, seq);
CREATE INDEX runs_by_repo_ref ON runs (repo, ref, state);

CREATE TABLE jobs (
    run_id      TEXT NOT NULL REFERENCES runs (id),
    name        TEXT NOT NULL,
    outcome     TEXT CHECK (outcome IN ('complete', 'failed', 'skipped')),
    message     TEXT,
    started_at  TEXT,
    finished_at TEXT,
    PRIMARY KEY (run_id, name)
);

CREATE TABLE sh_commands (
    run_id      TEXT NOT NULL REFERENCES runs (id),
    job         TEXT NOT NULL,
    n           INTEGER NOT NULL,
    cmd         TEXT NOT NULL,
    exit_code   INTEGER,
    timed_out   INTEGER NOT NULL DEFAULT 0,
    started_at  TEXT,
    finished_at TEXT,
    log_path    TEXT NOT NULL,
    PRIMARY KEY (run_id, job, n)
);

-- run_id is not a foreign key: refused requests for unknown runs are
-- recorded too, under the id the request named.
CREATE TABLE secret_accesses (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id  TEXT NOT NULL,
    job     TEXT,
    name    TEXT NOT NULL,
    at      TEXT NOT NULL,
    result  TEXT NOT NULL
);

CREATE INDEX secret_accesses_by_run ON secret_accesses (run_id, id);
