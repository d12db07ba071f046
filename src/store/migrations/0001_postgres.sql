CREATE TABLE questions (
    id BIGSERIAL PRIMARY KEY,
    asked_at BIGINT NOT NULL,
    question TEXT NOT NULL,
    normalised TEXT NOT NULL,
    article TEXT,
    follow_up INTEGER NOT NULL,
    declined INTEGER NOT NULL,
    degraded INTEGER NOT NULL,
    cached INTEGER NOT NULL,
    precomputed INTEGER NOT NULL,
    suggestable INTEGER NOT NULL,
    answer TEXT NOT NULL
);
CREATE INDEX questions_asked_at ON questions (asked_at);
CREATE INDEX questions_normalised ON questions (normalised);
CREATE TABLE feedback (
    id BIGSERIAL PRIMARY KEY,
    given_at BIGINT NOT NULL,
    question TEXT NOT NULL,
    normalised TEXT NOT NULL,
    answer TEXT NOT NULL,
    useful INTEGER NOT NULL,
    comment TEXT
);
CREATE INDEX feedback_given_at ON feedback (given_at);
