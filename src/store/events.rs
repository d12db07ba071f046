//! What the store records: a reader's question as the flow answered it, and a reader's
//! verdict on an answer; and the entries of the queue that carries them to the database.

/// A reader's question, as the flow answered it.
#[derive(Debug, Clone, Default)]
pub struct QuestionEvent {
    pub question: String,
    /// The article the reader was on.
    pub article: Option<String>,
    /// Asked after earlier turns of a conversation.
    pub follow_up: bool,
    pub declined: bool,
    pub degraded: bool,
    /// Served from the answer cache.
    pub cached: bool,
    /// A suggested question's prepared answer.
    pub precomputed: bool,
    /// May be offered to later readers (once verified again): see
    /// [`crate::answer::related::suggestable`].
    pub suggestable: bool,
    pub answer: String,
}

/// A reader's verdict on an answer.
#[derive(Debug, Clone, Default)]
pub struct FeedbackEvent {
    pub question: String,
    pub answer: String,
    pub useful: bool,
    pub comment: Option<String>,
}

/// One entry of the queue, with its time (unix seconds).
pub(super) enum Write {
    Question(QuestionEvent, i64),
    Feedback(FeedbackEvent, i64),
    /// Answered once everything queued before it is written (or the wait gave up).
    Flush(std::sync::mpsc::Sender<()>),
}

/// Now, in unix seconds (the stored times).
pub(super) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
