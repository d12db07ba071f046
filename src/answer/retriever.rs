//! Retrieval, evidence and the decision: everything before the model, and cheap (one sentence
//! embedding of the question at most). The suggestions and the answer flow both ask through
//! one [`Retriever`].
use super::prompt::{self, PromptStyle};
use super::result::AnswerRequest;
use super::{asked, evidence, query, AnswerError, Evidence};
use crate::embed::Embedder;
use crate::index::SearchIndex;
use crate::llm::{ChatMessage, GenerateParams};
use std::sync::Arc;
use std::time::Instant;

/// Settings of the flow. The defaults were chosen from `eval` figures.
#[derive(Debug, Clone)]
pub struct AnswerConfig {
    /// Passages retrieved (BM25 and dense, fused).
    pub passages: usize,
    /// Evidence sentences selected and shown with the answer.
    pub evidence_sentences: usize,
    /// Of those, how many the model reads. Measured with `eval` (300 SQuAD questions): the
    /// model's short answer holds the gold span more often from the single best sentence
    /// (0.616) than from two (0.548), and sooner, while showing two sentences holds the span
    /// more often (0.870 against 0.795).
    pub model_sentences: usize,
    /// A further sentence must match at least this share as well as the best.
    pub evidence_min_ratio: f32,
    /// With sentence vectors: an evidence sentence scores its share of the question's idf
    /// weight plus `w` times its cosine with the question, `w` going from 1 (the best
    /// passages hold all of the question's weight) to this (they hold none of it).
    pub dense_weight: f32,
    /// A sentence offering the kind of answer the question asks for ([`asked::offers`]: a
    /// new name for "Who…", a number for "How many…") scores this much more as evidence.
    /// Off by default: at 0.4 the evidence held the gold span of 1 more own-words question
    /// in 72 and the best sentence that of 1 fewer SQuAD question in 146 (`eval --no-generate
    /// --answer-kind-bonus 0.4`, the README's sample of 300): few questions say what they ask
    /// for by their opening words.
    pub answer_kind_bonus: f32,
    /// A sentence also scores this share of the score of the sentence before it in its
    /// paragraph (the answer often follows the sentence that matches the question), scaled
    /// like meaning by how little of the question the passages hold. Off by default: at 0.3
    /// the shown evidence held the gold span of 3 more own-words questions in 72 (0.583
    /// against 0.542) but of 1 fewer SQuAD question in 146, and the best sentence of 4 fewer
    /// (`eval --no-generate --context-weight 0.3`).
    pub context_weight: f32,
    /// Decline a question that names something (a capitalised word or a number,
    /// [`super::named`]) no article mentions, when the passages hold at least
    /// `unknown_name_coverage` of its weight (the rest of it is in the articles' words, so the
    /// name is what differs: SQuAD's look-alikes swap one) or its meaning is not confidently
    /// near (below `confident_similarity`). A question in a reader's own words that is
    /// confidently near keeps its outside names ("the Soviet scientist"). `eval
    /// --allow-unknown-names` measures what this adds.
    pub decline_unknown_names: bool,
    /// See `decline_unknown_names`.
    pub unknown_name_coverage: f32,
    /// Below this share of the question's weight found in the two best passages, decline.
    pub min_coverage: f32,
    /// Below this share of the question's weight found in the best evidence sentence,
    /// decline: a question whose words are scattered over unrelated sentences is off topic.
    pub min_sentence_coverage: f32,
    /// With sentence vectors: below this cosine between the question and its best sentence,
    /// decline whatever the words say (the question is about something else).
    pub min_similarity: f32,
    /// With sentence vectors: from this cosine on, answer even when the question shares few
    /// words with the articles (a reader asking in their own words).
    pub confident_similarity: f32,
    /// Cap on new tokens of an answer.
    pub max_new_tokens: usize,
    /// Generated sentences kept after the check: the first is the answer; a small model's
    /// later sentences mostly restate it, sometimes inverted.
    pub answer_sentences: usize,
    /// How the reader is asked (see [`AnswerConfig::for_model`]).
    pub prompt: PromptStyle,
    /// Decline when the reader says the evidence does not answer ("not stated") and writes
    /// nothing the evidence supports; otherwise the best evidence is quoted instead.
    pub reader_declines: bool,
    /// Between `min_similarity` and `confident_similarity`, where the words alone would
    /// decline, let the reader answer and then ask it whether the evidence makes its answer
    /// true ([`super::judge`]); decline when it does not say so. Off by default: with
    /// Qwen2.5-Coder-0.5B it answered 1 more own-words question in 60 and let 3 more
    /// off-topic questions in 75 through (`eval --reader-judgment`, SQuAD sample of 150).
    pub reader_judges_uncertain: bool,
    /// When the reader says "not stated" to a question whose best sentence has at least this
    /// cosine, it reads its sentences again with their neighbours before the question is
    /// declined ([`super::second_look`]); `None`: never. Off by default: unconfirmed, it
    /// answered 2 more own-words questions of 72 right but declined 9 fewer look-alike
    /// unanswerable ones of 154 (their lead over wrongly declined answerable ones fell from
    /// 0.21 to 0.17); confirmed, it gained nothing (`eval --second-look-from 0`, the README's
    /// SQuAD sample of 300).
    pub second_look_from: Option<f32>,
    /// A second look's answer stands only when the reader, asked whether the widened text
    /// makes it true, says so ([`super::judge::reader_confirms`]).
    pub second_look_confirmed: bool,
    /// The reader reads its sentences with their neighbours (within the passage) from the
    /// start, as the second look does. Off by default: reading the best sentence with its
    /// neighbours, answers held the gold span more often (SQuAD 0.719 against 0.699, own
    /// words 0.375 against 0.319) but were longer (token F1 0.542 against 0.589), and more
    /// answerable questions were declined (0.055 against 0.034) while fewer look-alikes were
    /// (0.208 against 0.247) (`eval --read-neighbours --model-sentences 1`).
    pub read_neighbours: bool,
    /// Below this share of the question's weight in the best passages, the reader reads the
    /// best sentence with its neighbours instead of the best sentences (0: never). Off by
    /// default: at 0.3 the own-words evidence held the gold span of 1 more question in 72,
    /// no answer more, and 2 fewer look-alikes and 1 fewer off-topic question were declined
    /// (`eval --read-neighbours-below 0.3`, the README's names table).
    pub read_neighbours_below: f32,
    /// The phrase style's user turn, when not [`prompt::PHRASE_TEMPLATE`] (`eval
    /// --prompt-template`). Measured against it (SQuAD sample of 300 / own words of 72,
    /// answer contains gold): adding "The question may use other words than the text."
    /// 0.699 / 0.333 (same / +1); the instruction after the question 0.589 / 0.278 (the
    /// reader then declined 0.192 of answerable questions); one sentence per line 0.664 /
    /// 0.347. None is better, so the default stays.
    pub prompt_template: Option<Arc<str>>,
    /// Below this share of the question's weight in the best passages (a question in other
    /// words than the articles'), the reader first writes the sentence an encyclopedia would
    /// answer it with ([`super::hypothesis`]), and the passages and evidence are chosen by the
    /// question's and that sentence's meaning together; the decision to answer stays the
    /// question's own. 0: never. Off by default: below 0.5 it answered 2 more own-words
    /// questions of 72 right but its evidence held the gold span of 1 fewer, the SQuAD figures
    /// barely moved, and the p90 latency rose from 255 to 455 ms (`eval --hypothesis-below
    /// 0.5`, the README's sample of 300); with its words in BM25 too, no better.
    pub hypothesis_below: f32,
    /// The hypothetical sentence's words join the question's in BM25 too.
    pub hypothesis_lexical: bool,
    /// The check keeps an answer only when every content word of it is in its evidence or
    /// the question, not only its numbers and names ([`super::check::check_with`]): on for
    /// the reader asked for a phrase of the text. Measured (`eval --names-and-numbers-check`,
    /// the README's SQuAD sample of 300 and the own-words set): 1 of 293 answers changed, a
    /// wrong "Yes, the new deal includes…", which became a quote of its evidence; nothing
    /// else changed. It is a guard against misreadings ("Seared General Syrsky"), not a
    /// test of premises: words taken from the question pass.
    pub answer_words_in_evidence: bool,
}

impl AnswerConfig {
    /// The defaults for a reader, by its name: SmolLM2 reads the single best sentence and
    /// writes one cited sentence; a stronger reader reads the best two of the three shown,
    /// answers with the shortest phrase of the evidence, and its "not stated" is a decline.
    pub fn for_model(name: &str) -> Self {
        let prompt = PromptStyle::for_model(name);
        let base = AnswerConfig::default();
        match prompt {
            PromptStyle::Sentence => base,
            // Three sentences shown, two read: the third holds the gold span of 1 more SQuAD
            // question in 75 and 3 more own-words ones in 60 at no cost to the answers (the
            // reader reading three answered fewer right: 0.671 against 0.699 of 300).
            PromptStyle::Phrase => AnswerConfig {
                evidence_sentences: 3,
                model_sentences: 2,
                max_new_tokens: 32,
                prompt,
                reader_declines: true,
                answer_words_in_evidence: true,
                ..base
            },
        }
    }
}

impl Default for AnswerConfig {
    fn default() -> Self {
        AnswerConfig {
            passages: 5,
            evidence_sentences: 2,
            model_sentences: 1,
            evidence_min_ratio: 0.35,
            dense_weight: 3.0,
            answer_kind_bonus: 0.0,
            context_weight: 0.0,
            decline_unknown_names: true,
            unknown_name_coverage: 0.3,
            min_coverage: 0.4,
            min_sentence_coverage: 0.35,
            min_similarity: 0.35,
            confident_similarity: 0.42,
            max_new_tokens: 48,
            answer_sentences: 1,
            prompt: PromptStyle::Sentence,
            reader_declines: false,
            reader_judges_uncertain: false,
            prompt_template: None,
            second_look_from: None,
            second_look_confirmed: true,
            read_neighbours: false,
            read_neighbours_below: 0.0,
            hypothesis_below: 0.0,
            hypothesis_lexical: false,
            answer_words_in_evidence: false,
        }
    }
}

/// What a question needs before generation: the evidence, the decision and the prompt.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub question: String,
    /// The question as the reader reads it: a follow-up's pronouns replaced by what they
    /// stand for ([`query::for_reader`]); the question itself otherwise.
    pub read_question: String,
    pub query: String,
    pub evidence: Vec<Evidence>,
    /// Why the corpus cannot answer, when it cannot.
    pub decline: Option<String>,
    /// Why the words alone would decline a question whose meaning is near the articles, when
    /// the reader is to judge its own answer instead ([`super::judge::settle`]). A result
    /// composed while this is still set is declined with it.
    pub uncertain: Option<String>,
    pub messages: Vec<ChatMessage>,
    /// How many of the evidence sentences (the first) the model reads.
    pub read: usize,
    pub coverage: f32,
    pub sentence_coverage: f32,
    /// The best cosine between the question and a retrieved sentence (with vectors).
    pub similarity: Option<f32>,
    pub retrieval_ms: f64,
    pub(super) started: Instant,
}

impl Prepared {
    /// The evidence sentences the model reads.
    pub fn read_evidence(&self) -> &[Evidence] {
        &self.evidence[..self.read.min(self.evidence.len())]
    }

    /// Milliseconds since the request started (for time to first token).
    pub fn elapsed_ms(&self) -> f64 {
        crate::millis(self.started.elapsed())
    }
}

/// One index and the settings that say how to read it.
pub struct Retriever {
    index: Arc<SearchIndex>,
    config: AnswerConfig,
    embedder: Option<Arc<Embedder>>,
}

impl Retriever {
    /// A lexical retriever (BM25 and word overlap only).
    pub fn new(index: Arc<SearchIndex>, config: AnswerConfig) -> Retriever {
        Retriever {
            index,
            config,
            embedder: None,
        }
    }

    /// Retrieval and decisions by meaning too: the question is embedded and compared with the
    /// index's sentence vectors (an index without vectors stays lexical).
    pub fn with_embedder(mut self, embedder: Option<Arc<Embedder>>) -> Retriever {
        self.embedder = embedder;
        self
    }

    /// The embedder, when retrieval uses one.
    pub fn embedder(&self) -> Option<&Arc<Embedder>> {
        self.embedder.as_ref()
    }

    /// The `k` passages that best match `question` (fused BM25 and dense when the index has
    /// vectors and this retriever an embedder).
    pub fn search(
        &self,
        question: &str,
        k: usize,
        article: Option<&str>,
    ) -> Result<Vec<crate::index::SearchHit>, AnswerError> {
        let sims = self.similarities(question)?;
        Ok(self
            .index
            .hybrid_search(question, sims.as_deref(), k, article)?)
    }

    /// The question's cosine with every sentence vector; `None` when retrieval is lexical.
    fn similarities(&self, query: &str) -> Result<Option<Vec<f32>>, AnswerError> {
        let (Some(embedder), Some(vectors)) = (&self.embedder, self.index.vectors()) else {
            return Ok(None);
        };
        let q = embedder.embed_one(query)?;
        Ok(Some(vectors.similarities(&q)))
    }

    pub fn index(&self) -> &Arc<SearchIndex> {
        &self.index
    }

    pub fn config(&self) -> &AnswerConfig {
        &self.config
    }

    /// Retrieval, evidence and the decision. Cheap: no model call.
    pub fn prepare(&self, request: &AnswerRequest) -> Result<Prepared, AnswerError> {
        self.prepare_with(request, None)
    }

    /// Whether the reader should write a hypothetical answer for `prepared` before reading
    /// ([`AnswerConfig::hypothesis_below`]).
    pub fn wants_hypothesis(&self, prepared: &Prepared) -> bool {
        prepared.decline.is_none()
            && prepared.similarity.is_some()
            && prepared.coverage < self.config.hypothesis_below
    }

    /// [`Retriever::prepare`] with passages and evidence chosen by the question's and
    /// `hypothesis`'s meaning together (their cosines averaged), and with its words in BM25
    /// when [`AnswerConfig::hypothesis_lexical`]. The decision and its signals (coverage,
    /// similarity) stay those of the question alone, as in `original`.
    pub fn prepare_with_hypothesis(
        &self,
        request: &AnswerRequest,
        original: Prepared,
        hypothesis: &str,
    ) -> Result<Prepared, AnswerError> {
        let mut widened = self.prepare_with(request, Some(hypothesis))?;
        widened.decline = original.decline;
        widened.uncertain = original.uncertain;
        widened.coverage = original.coverage;
        widened.sentence_coverage = original.sentence_coverage;
        widened.similarity = original.similarity;
        widened.started = original.started;
        widened.retrieval_ms = crate::millis(original.started.elapsed());
        Ok(widened)
    }

    fn prepare_with(
        &self,
        request: &AnswerRequest,
        hypothesis: Option<&str>,
    ) -> Result<Prepared, AnswerError> {
        let started = Instant::now();
        if let Some(id) = &request.article {
            if self.index.article(id).is_none() {
                return Err(AnswerError::UnknownArticle(id.clone()));
            }
        }
        let question = request.question.trim().to_string();
        let (query, _) = query::resolve(&question, &request.history);
        let mut sims = self.similarities(&query)?;
        let mut searched = query.clone();
        if let Some(h) = hypothesis {
            if let (Some(sims), Some(more)) = (sims.as_mut(), self.similarities(h)?) {
                for (s, m) in sims.iter_mut().zip(more) {
                    *s = 0.5 * (*s + m);
                }
            }
            if self.config.hypothesis_lexical {
                searched = format!("{query} {h}");
            }
        }
        let hits = self.index.hybrid_search(
            &searched,
            sims.as_deref(),
            self.config.passages,
            request.article.as_deref(),
        )?;
        let terms = evidence::query_terms(&self.index, &query);
        // How much of what the question asks about the best passages mention at all.
        let context: String = hits
            .iter()
            .take(2)
            .map(|h| h.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let coverage = evidence::coverage(&self.index, &terms, &context);
        // Meaning weighs most for a question in a reader's own words (little of it in the
        // passages), least for one in the article's words, whose shared words are precise.
        let c = &self.config;
        let dense_weight = 1.0 + (c.dense_weight - 1.0).max(0.0) * (1.0 - coverage.clamp(0.0, 1.0));
        let evidence = evidence::select(
            &self.index,
            &terms,
            &hits,
            &evidence::Scoring {
                sims: sims.as_deref().map(|s| (s, dense_weight)),
                wanted: asked::asks_for(&question)
                    .filter(|_| c.answer_kind_bonus > 0.0)
                    .map(|asked| evidence::Wanted {
                        asked,
                        question: &question,
                        bonus: c.answer_kind_bonus,
                    }),
                // Like meaning, the context counts most when the question's words are not
                // in the passages.
                context_weight: c.context_weight * (1.0 - coverage.clamp(0.0, 1.0)),
            },
            self.config.evidence_sentences,
            self.config.evidence_min_ratio,
        );
        let similarity = sims
            .as_deref()
            .and_then(|sims| evidence::best_similarity(&self.index, &hits, sims));
        let sentence_coverage = evidence
            .first()
            .map(|e| evidence::coverage(&self.index, &terms, &e.quote))
            .unwrap_or(0.0);
        // What the words alone say: the passages and the best sentence must hold enough of
        // the question's weight.
        let lexical_decline = if coverage < c.min_coverage {
            Some(format!(
                "the best passages mention too little of the question ({:.0}% of its weight)",
                (coverage * 100.0).max(0.0)
            ))
        } else if sentence_coverage < c.min_sentence_coverage {
            Some(format!(
                "no sentence speaks to the question ({:.0}% of its weight in the best one)",
                (sentence_coverage * 100.0).max(0.0)
            ))
        } else {
            None
        };
        // Names the reader typed (not those a follow-up takes from the conversation).
        let name_decides = coverage >= c.unknown_name_coverage
            || similarity.is_none_or(|s| s < c.confident_similarity);
        let unknown: Vec<String> = if c.decline_unknown_names && name_decides {
            super::named::names(&question)
                .into_iter()
                .filter(|name| !name.split(' ').all(|w| self.index.mentions(w)))
                .collect()
        } else {
            Vec::new()
        };
        let (decline, uncertain) = if terms.is_empty() && similarity.is_none() {
            (
                Some("the question names nothing to look for".to_string()),
                None,
            )
        } else if !unknown.is_empty() {
            let why = format!("the articles never mention {}", unknown.join(", "));
            (Some(why), None)
        } else if evidence.is_empty() {
            (Some("no passage matches the question".to_string()), None)
        } else if similarity.is_some_and(|s| s < c.min_similarity) {
            let s = similarity.unwrap_or(0.0);
            let why = format!("nothing in the articles is about this (best similarity {s:.2})");
            (Some(why), None)
        } else if similarity.is_some_and(|s| s >= c.confident_similarity) {
            (None, None)
        } else if similarity.is_some() && c.reader_judges_uncertain {
            // Near the articles in meaning, far in words: the reader's answer is judged.
            (None, lexical_decline)
        } else {
            (lexical_decline, None)
        };
        let mut read = self.config.model_sentences.max(1).min(evidence.len());
        let mut evidence = evidence;
        // A question in other words than the text (little of it in the passages) leaves the
        // choice of sentence least sure: the reader reads the best one with its neighbours.
        let in_other_words = coverage < self.config.read_neighbours_below;
        if in_other_words && !self.config.read_neighbours {
            read = 1;
        }
        if self.config.read_neighbours || in_other_words {
            if let Some((widened, n)) = super::second_look::widen(&self.index, &evidence, read) {
                evidence = widened;
                read = n;
            }
        }
        let read_question = query::for_reader(&question, &request.history);
        let messages = self.messages(&read_question, &evidence[..read]);
        Ok(Prepared {
            question,
            read_question,
            query,
            evidence,
            decline,
            uncertain,
            messages,
            read,
            coverage,
            sentence_coverage,
            similarity,
            retrieval_ms: crate::millis(started.elapsed()),
            started,
        })
    }

    /// What the model is asked, reading `evidence`.
    pub fn messages(&self, question: &str, evidence: &[Evidence]) -> Vec<ChatMessage> {
        prompt::messages(
            self.config.prompt,
            self.config.prompt_template.as_deref(),
            question,
            evidence,
        )
    }

    /// How the model writes an answer.
    pub fn generate_params(&self) -> GenerateParams {
        GenerateParams {
            max_tokens: self.config.max_new_tokens,
            stop: vec!["\n\n".to_string(), "Question:".to_string()],
            ..GenerateParams::default()
        }
    }
}
