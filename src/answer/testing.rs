//! For the flow's unit tests: a small corpus indexed by words (no model files), and a scripted
//! model that writes a fixed answer word by word, fails, stalls or is busy on request.
use crate::index::{ensure_index, IndexOptions, SearchIndex};
use crate::llm::{
    ChatMessage, FinishReason, GenEvent, GenStream, GenSummary, GenerateParams, LanguageModel,
    LlmError,
};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Two short articles: one about a war's commanders and a port, one about a bakery.
const ARTICLES: &[(&str, &str)] = &[
    (
        "war.md",
        "# The war in numbers\n\nGeneral Syrsky replaced General Zaluzhny as commander in \
         February. Zaluzhny had led the defence of Kyiv for two years.\n\nThe harbour of Odesa \
         handles most of the grain exports. Ships leave it every day for Istanbul.\n",
    ),
    (
        "bakery.md",
        "# A bakery in Lyon\n\nThe bakery opened in 1921 on the Rue Merciere in Lyon. It bakes \
         four hundred loaves every morning.\n",
    ),
];

/// The small corpus, indexed by words only, in a temporary folder that the caller keeps.
pub fn small_index() -> (tempfile::TempDir, Arc<SearchIndex>) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let corpus = dir.path().join("corpus");
    std::fs::create_dir_all(&corpus).expect("the corpus folder");
    for (name, text) in ARTICLES {
        std::fs::write(corpus.join(name), text).expect("an article");
    }
    let (index, _) = ensure_index(&corpus, &dir.path().join("data"), &IndexOptions::default())
        .expect("the small index");
    (dir, Arc::new(index))
}

/// What the scripted model does when asked.
#[derive(Debug, Clone)]
pub enum Script {
    /// Writes these pieces, `delay` apart, then says it is done.
    Write(Vec<&'static str>, Duration),
    /// Writes the first piece, then its stream ends without saying it is done.
    CutOff(&'static str),
    /// Refuses: its queue is full.
    Busy,
}

/// A model that follows a [`Script`], counting the generations asked of it and noticing when
/// a reader stops listening.
pub struct Scripted {
    script: Mutex<Script>,
    pub calls: AtomicUsize,
    pub cancelled: Arc<AtomicBool>,
}

impl Scripted {
    pub fn new(script: Script) -> Arc<Scripted> {
        Arc::new(Scripted {
            script: Mutex::new(script),
            calls: AtomicUsize::new(0),
            cancelled: Arc::new(AtomicBool::new(false)),
        })
    }

    pub fn set(&self, script: Script) {
        *self.script.lock().expect("the script") = script;
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

fn done() -> GenEvent {
    GenEvent::Done(GenSummary {
        prompt_tokens: 12,
        completion_tokens: 3,
        prompt_trimmed: false,
        finish_reason: FinishReason::Stop,
        ttft_ms: 1.0,
        total_ms: 2.0,
        prefill_tok_s: 1.0,
        decode_tok_s: 1.0,
        decode_passes: 0,
    })
}

impl LanguageModel for Scripted {
    fn name(&self) -> &str {
        "SmolLM2-scripted"
    }

    fn generate(&self, _: Vec<ChatMessage>, _: GenerateParams) -> Result<GenStream, LlmError> {
        let script = self.script.lock().expect("the script").clone();
        if let Script::Busy = script {
            return Err(LlmError::Busy);
        }
        self.calls.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let cancelled = self.cancelled.clone();
        std::thread::spawn(move || {
            let (pieces, delay, finish) = match script {
                Script::Write(pieces, delay) => (pieces, delay, true),
                Script::CutOff(first) => (vec![first], Duration::ZERO, false),
                Script::Busy => return,
            };
            for piece in pieces {
                std::thread::sleep(delay);
                if tx.blocking_send(GenEvent::Delta(piece.into())).is_err() {
                    cancelled.store(true, Ordering::SeqCst);
                    return;
                }
            }
            if finish {
                let _ = tx.blocking_send(done());
            }
        });
        Ok(GenStream::new(rx))
    }

    fn count_tokens(&self, text: &str) -> usize {
        text.split_whitespace().count()
    }

    fn context_length(&self) -> usize {
        2048
    }
}
