//! The answer flow's settings, in one place: one line each says what it does, its default and
//! where the default came from (the figures are in `docs/benchmarks/`). `eval` and the other
//! commands override them by name (`--set key=value`, or a file of such lines) through
//! [`AnswerConfig::set`]; [`AnswerConfig::describe`] lists them.
use super::prompt::PromptStyle;
use std::str::FromStr;

/// A setting that could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no setting named {key:?}; the settings are: {known}")]
    UnknownKey { key: String, known: String },
    #[error("{key} = {value:?}: {why}")]
    BadValue {
        key: String,
        value: String,
        why: String,
    },
    #[error("{0:?} is not `key=value`")]
    NotAnAssignment(String),
}

/// Declares the settings once: the struct, its defaults, [`AnswerConfig::set`] and the
/// table that [`AnswerConfig::describe`] prints.
macro_rules! settings {
    ($( $(#[doc = $doc:literal])+ $name:ident: $ty:ty = $default:expr, )+) => {
        /// Settings of the answer flow (see the module).
        #[derive(Debug, Clone, PartialEq)]
        pub struct AnswerConfig {
            $( $(#[doc = $doc])+ pub $name: $ty, )+
        }

        impl Default for AnswerConfig {
            fn default() -> Self {
                AnswerConfig { $( $name: $default, )+ }
            }
        }

        impl AnswerConfig {
            /// Every setting: its name and what it does.
            const TABLE: &'static [(&'static str, &'static str)] =
                &[$( (stringify!($name), concat!($($doc),+)) ),+];

            /// Sets one setting by its name, from text.
            pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
                let value = value.trim();
                match key.trim() {
                    $( stringify!($name) => self.$name = parse(stringify!($name), value)?, )+
                    _ => {
                        return Err(ConfigError::UnknownKey {
                            key: key.to_string(),
                            known: Self::TABLE
                                .iter()
                                .map(|(k, _)| *k)
                                .collect::<Vec<_>>()
                                .join(", "),
                        })
                    }
                }
                Ok(())
            }

            /// The current value of every setting, by name.
            pub fn values(&self) -> Vec<(&'static str, String)> {
                vec![$( (stringify!($name), format!("{:?}", self.$name)) ),+]
            }
        }
    };
}

settings! {
    /// Passages retrieved (BM25 and dense, fused). Default 5.
    passages: usize = 5,
    /// Evidence sentences chosen and shown with the answer. Default 2; 3 for a phrase reader
    /// (the third held the gold span of 1 more SQuAD question in 75 and 3 more own-words ones
    /// in 60, at no cost to the answers).
    evidence_sentences: usize = 2,
    /// Of those, how many the reader reads. Default 1 (SmolLM2 answered 0.616 right from one
    /// sentence, 0.548 from two); 2 for a phrase reader (three: 0.671 against 0.699 of 300).
    model_sentences: usize = 1,
    /// The reader reads the best sentences, then the rest of the best retrieved passages
    /// (`passages_read`), when the best sentences hold neither the question's words (the best
    /// one less than this share of its weight) nor, with sentence vectors, its meaning (see
    /// `passage_below_similarity`): a question in the reader's own words, whose answer is
    /// often the sentence next to the one that matched. 0: never; 1 for a phrase reader of 1B
    /// parameters or more, so that only a best sentence holding every word of the question
    /// stands in for its meaning (the 1.5B, reading the best sentences first: own words 0.700 →
    /// 0.733 against a bar of 0.5, look-alikes declined 0.357 → 0.344; the 0.5B reads a
    /// passage worse than two sentences: 0.333 → 0.267;
    /// docs/benchmarks/2026-12-07-best-sentence-first.md).
    passage_below_coverage: f32 = 0.0,
    /// See `passage_below_coverage`: the best cosine between the question and a retrieved
    /// sentence below which the best sentences do not hold its meaning. 0.65 (with the two
    /// passages below, against 0.6 and one: own words 0.617 → 0.667 right, SQuAD unchanged
    /// within a question; docs/benchmarks/2026-12-07-two-passages.md). From it on, too, a
    /// yes-or-no question the reader answers "not stated" is answered with the best sentence,
    /// quoted, instead of declined (docs/benchmarks/2026-12-07-yes-no-questions.md).
    passage_below_similarity: f32 = 0.65,
    /// How many of the best retrieved passages the reader reads whole then (see
    /// `passage_below_coverage`): 2, since a reader's own words often rank the passage that
    /// answers second.
    passages_read: usize = 2,
    /// A further evidence sentence must score at least this share of the best one's. 0.35.
    evidence_min_ratio: f32 = 0.35,
    /// With sentence vectors, a sentence scores its share of the question's idf weight plus
    /// `w` times its cosine, `w` going from 1 (the best passages hold all of the question's
    /// weight) to this (they hold none of it). 3.0, from `eval` on the SQuAD sample.
    dense_weight: f32 = 3.0,
    /// Decline a question naming something (a capitalised word or a number) no article
    /// mentions, when the passages hold at least `unknown_name_coverage` of its weight or its
    /// meaning is not confidently near. On: SQuAD's look-alikes swap one name.
    decline_unknown_names: bool = true,
    /// See `decline_unknown_names`. 0.3, the bar chosen on the SQuAD sample and the own-words
    /// set together.
    unknown_name_coverage: f32 = 0.3,
    /// Without vectors (a lexical index): decline below this share of the question's weight
    /// in the two best passages. 0.4.
    min_coverage: f32 = 0.4,
    /// Without vectors: decline below this share of the question's weight in the best
    /// evidence sentence (its words scattered over unrelated sentences: off topic). 0.35.
    min_sentence_coverage: f32 = 0.35,
    /// With vectors: decline when the best retrieved sentence's cosine with the question plus
    /// the best retrieved passage's (its whole text) is below the corpus's bar, whatever the
    /// words say: the question is about something the articles are not. Words do not decline
    /// a question the articles are about (a reader's own words); the reader's "not stated"
    /// does. The bar is `meaning_margin` above how near everyday questions come to the corpus
    /// (`answer::background`), from `min_meaning_floor` up to this. 0.7, from `eval`
    /// (docs/benchmarks/2026-12-06-meaning-gate.md, 2026-12-06-meaning-bar.md).
    min_meaning: f32 = 0.7,
    /// See `min_meaning`. 0.2.
    meaning_margin: f32 = 0.2,
    /// See `min_meaning`: the lowest bar, for a corpus far from everyday questions. 0.5.
    min_meaning_floor: f32 = 0.5,
    /// With vectors: from this cosine on, a name no article mentions does not decline (see
    /// `decline_unknown_names`): a reader's own words name things outside the text. 0.42.
    confident_similarity: f32 = 0.42,
    /// Cap on an answer's new tokens. 48; 32 for a phrase reader (its answers are phrases).
    max_new_tokens: usize = 48,
    /// Generated sentences kept after the check: a small model's later sentences mostly
    /// restate the first, sometimes inverted. 1.
    answer_sentences: usize = 1,
    /// How the reader is asked: `sentence` (SmolLM2) or `phrase` (stronger readers); chosen
    /// by the model's name ([`AnswerConfig::for_model`]).
    prompt: PromptStyle = PromptStyle::Sentence,
    /// Decline when the reader says the evidence does not answer ("not stated") and writes
    /// nothing the evidence supports (otherwise the best evidence is quoted). Off; on for a
    /// phrase reader, whose "not stated" separates answerable from look-alike questions.
    reader_declines: bool = false,
    /// With `reader_declines`: the reader's "not stated" is taken whenever its first word has
    /// at least this probability at the start of the reply, even when an answer is likelier (a
    /// reader that gives "the text does not say" that much of a chance is not sure of any
    /// answer; the local engine only). 0: only when "not stated" is the likeliest reply; 0.3
    /// for a phrase reader of 1B parameters or more (the 1.5B: 4 more look-alikes declined of
    /// 308 in two SQuAD samples, nothing else changed; at 0.2 each answerable question lost
    /// bought 2–3 look-alikes; docs/benchmarks/2026-12-07-likely-not-stated.md).
    not_stated_probability: f32 = 0.0,
    /// The check keeps an answer only when every content word of it is in its evidence or the
    /// question, not only its numbers and names. Off; on for a phrase reader (1 of 293
    /// answers changed on the SQuAD sample and own-words set: a misreading, now quoted).
    answer_words_in_evidence: bool = false,
}

impl AnswerConfig {
    /// The defaults for a reader, by its name: SmolLM2 reads the single best sentence and
    /// writes one cited sentence; a stronger reader reads the best two of the three shown,
    /// answers with the shortest exact phrase of the evidence, and its "not stated" is a
    /// decline.
    pub fn for_model(name: &str) -> Self {
        let prompt = PromptStyle::for_model(name);
        let base = AnswerConfig::default();
        match prompt {
            PromptStyle::Sentence => base,
            PromptStyle::Phrase => AnswerConfig {
                evidence_sentences: 3,
                model_sentences: 2,
                max_new_tokens: 32,
                passage_below_coverage: if billion_or_more(name) { 1.0 } else { 0.0 },
                not_stated_probability: if billion_or_more(name) { 0.3 } else { 0.0 },
                prompt,
                reader_declines: true,
                answer_words_in_evidence: true,
                ..base
            },
        }
    }

    /// Whether the best retrieved sentence holds the question's meaning: its cosine with the
    /// question (`similarity`, with sentence vectors) reaches `passage_below_similarity`.
    /// Without vectors it never does.
    pub fn best_sentence_holds_meaning(&self, similarity: Option<f32>) -> bool {
        similarity.is_some_and(|s| s >= self.passage_below_similarity)
    }

    /// Applies `key=value` assignments in order.
    pub fn apply<'a>(
        &mut self,
        assignments: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), ConfigError> {
        for a in assignments {
            let (key, value) = a
                .split_once('=')
                .ok_or_else(|| ConfigError::NotAnAssignment(a.to_string()))?;
            self.set(key, value)?;
        }
        Ok(())
    }

    /// Applies a file of `key = value` lines ([`settings_lines`]).
    pub fn apply_file_text(&mut self, text: &str) -> Result<(), ConfigError> {
        self.apply(settings_lines(text))
    }

    /// Every setting with its value and what it does, one per line.
    pub fn describe(&self) -> String {
        self.values()
            .into_iter()
            .zip(Self::TABLE)
            .map(|((key, value), (_, doc))| format!("{key} = {value}\n    {}\n", doc.trim()))
            .collect()
    }
}

/// Whether a model's name states a billion parameters or more.
pub(crate) fn billion_or_more(name: &str) -> bool {
    billions(name).is_some_and(|b| b >= 1.0)
}

/// The billions of parameters a model's name states ("qwen2.5-coder-1.5b-instruct" → 1.5,
/// "Llama-3.1-8B" → 8), if it states them.
fn billions(name: &str) -> Option<f32> {
    name.to_lowercase()
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
        .find_map(|part| part.strip_suffix('b')?.parse().ok())
}

/// The assignments of a settings file: its `key = value` lines, without blank lines and `#`
/// comments.
pub fn settings_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
}

fn parse<T: FromStr>(key: &str, value: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e: T::Err| ConfigError::BadValue {
        key: key.to_string(),
        value: value.to_string(),
        why: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_set_by_name_and_bad_ones_are_refused() {
        let mut c = AnswerConfig::for_model("qwen2.5-coder-0.5b");
        c.apply([
            "min_coverage=0.25",
            " reader_declines = false",
            "prompt=sentence",
        ])
        .unwrap();
        assert_eq!(c.min_coverage, 0.25);
        assert!(!c.reader_declines);
        assert_eq!(c.prompt, PromptStyle::Sentence);
        c.apply_file_text("# a comment\n\nevidence_sentences = 4  # four\n")
            .unwrap();
        assert_eq!(c.evidence_sentences, 4);

        let unknown = c.set("min_coverge", "0.3").unwrap_err().to_string();
        assert!(unknown.contains("min_coverage"), "{unknown}");
        let bad = c.set("passages", "many").unwrap_err().to_string();
        assert!(bad.contains("passages") && bad.contains("many"), "{bad}");
        assert!(c.apply(["passages"]).is_err());
        // Nothing refused changed anything.
        assert_eq!(c.passages, 5);
    }

    #[test]
    fn readers_of_a_billion_parameters_or_more_read_whole_passages() {
        assert_eq!(billions("qwen2.5-coder-1.5b-instruct-q4_k_m"), Some(1.5));
        assert_eq!(billions("Meta-Llama-3.1-8B-Instruct"), Some(8.0));
        assert_eq!(billions("SmolLM2-135M-Instruct.Q4_1"), None);
        let reads = |name: &str| AnswerConfig::for_model(name).passage_below_coverage > 0.0;
        assert!(reads("qwen2.5-coder-1.5b-instruct-q4_k_m"));
        assert!(!reads("qwen2.5-coder-0.5b-instruct-q4_k_m"));
        assert!(!reads("SmolLM2-135M-Instruct.Q4_1"));
        assert!(!reads("some-remote-model"));
        let hesitates = |name: &str| AnswerConfig::for_model(name).not_stated_probability > 0.0;
        assert!(hesitates("qwen2.5-coder-1.5b-instruct-q4_k_m"));
        assert!(!hesitates("qwen2.5-coder-0.5b-instruct-q4_k_m"));
    }

    #[test]
    fn every_setting_is_described() {
        let text = AnswerConfig::default().describe();
        for (key, _) in AnswerConfig::default().values() {
            assert!(text.contains(&format!("{key} = ")), "{key}");
        }
        assert!(text.contains("min_meaning = 0.7"));
    }
}
