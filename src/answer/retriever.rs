//! Retrieval, evidence and the decision: everything before the model, and cheap (one sentence
//! embedding of the question at most). The suggestions and the answer flow both ask through
//! one [`Retriever`].
use super::background;
use super::budget::RetrievalBudget;
use super::config::AnswerConfig;
use super::prompt;
use super::query_vectors::QueryVectors;
use super::result::AnswerRequest;
use super::{evidence, query, AnswerError, Evidence};
use crate::embed::Embedder;
use crate::index::{SearchHit, SearchIndex};
use crate::llm::{ChatMessage, GenerateParams, LikelyReply};
use std::sync::Arc;
use std::time::Instant;

/// What a question needs before generation: the evidence, the decision and the prompt.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub question: String,
    /// The question as the reader reads it: a follow-up's pronouns replaced by what they
    /// stand for ([`query::for_reader`]); the question itself otherwise.
    pub read_question: String,
    pub query: String,
    /// The evidence: the `shown` best sentences first, best first, then the rest of the
    /// passage the reader reads whole (when it does), in article order.
    pub evidence: Vec<Evidence>,
    /// How many of the evidence items (the first) are shown as the answer's sources.
    pub shown: usize,
    /// Why the corpus cannot answer, when it cannot.
    pub decline: Option<String>,
    pub messages: Vec<ChatMessage>,
    /// The evidence the model reads, as indices into `evidence`, in reading order.
    pub reading: Vec<usize>,
    pub coverage: f32,
    pub sentence_coverage: f32,
    /// The best cosine between the question and a retrieved sentence (with vectors).
    pub similarity: Option<f32>,
    /// The best cosine between the question and a retrieved passage's whole text.
    pub passage_similarity: Option<f32>,
    pub retrieval_ms: f64,
    pub(super) started: Instant,
}

impl Prepared {
    /// The evidence sentences the model reads, in reading order.
    pub fn read_evidence(&self) -> Vec<&Evidence> {
        self.reading
            .iter()
            .filter_map(|&i| self.evidence.get(i))
            .collect()
    }

    /// The evidence shown as the answer's sources before the answer is written.
    pub fn shown_evidence(&self) -> &[Evidence] {
        &self.evidence[..self.shown.min(self.evidence.len())]
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
    /// Embeddings of recent queries.
    vectors: QueryVectors,
    budget: Option<Arc<RetrievalBudget>>,
    /// Below this, meaning declines ([`background::meaning_bar`]).
    meaning_bar: f32,
}

impl Retriever {
    /// A lexical retriever (BM25 and word overlap only).
    pub fn new(index: Arc<SearchIndex>, config: AnswerConfig) -> Retriever {
        Retriever {
            meaning_bar: config.min_meaning,
            index,
            config,
            embedder: None,
            vectors: QueryVectors::default(),
            budget: None,
        }
    }

    /// Retrieval shares the cores with the model under `budget` (a server under load).
    pub fn with_budget(mut self, budget: Arc<RetrievalBudget>) -> Retriever {
        self.budget = Some(budget);
        self
    }

    /// Retrieval and decisions by meaning too: the question is embedded and compared with the
    /// index's sentence vectors (an index without vectors stays lexical).
    /// The meaning gate's bar is set here, from how near everyday questions come to the index.
    pub fn with_embedder(mut self, embedder: Option<Arc<Embedder>>) -> Retriever {
        let everyday = match &embedder {
            Some(e) => background::everyday_nearness(&self.index, e).unwrap_or_else(|err| {
                tracing::warn!(
                    "everyday questions not embedded ({err}): the meaning bar stays at its highest"
                );
                None
            }),
            None => None,
        };
        self.meaning_bar = background::meaning_bar(&self.config, everyday);
        if let Some(near) = everyday {
            tracing::info!(everyday = near, bar = self.meaning_bar, "meaning bar");
        }
        self.embedder = embedder;
        self
    }

    /// Below this nearness (best sentence plus best passage), a question is declined before
    /// the reader ([`background`]).
    pub fn meaning_bar(&self) -> f32 {
        self.meaning_bar
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
        let _turn = self.budget.as_ref().map(|b| b.acquire());
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
        let q = self.vectors.embed(embedder, query)?;
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
        let _turn = self.budget.as_ref().map(|b| b.acquire());
        let started = Instant::now();
        if let Some(id) = &request.article {
            if self.index.article(id).is_none() {
                return Err(AnswerError::UnknownArticle(id.clone()));
            }
        }
        let question = request.question.trim().to_string();
        let (query, _) = query::resolve(&question, &request.history);
        let sims = self.similarities(&query)?;
        let hits = self.index.hybrid_search(
            &query,
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
            sims.as_deref().map(|s| (s, dense_weight)),
            self.config.evidence_sentences,
            self.config.evidence_min_ratio,
        );
        let similarity = sims
            .as_deref()
            .and_then(|sims| evidence::best_similarity(&self.index, &hits, sims));
        let passage_similarity = sims
            .as_deref()
            .and_then(|sims| evidence::best_passage_similarity(&self.index, &hits, sims));
        let sentence_coverage = evidence
            .first()
            .map(|e| evidence::coverage(&self.index, &terms, &e.quote))
            .unwrap_or(0.0);
        // Names the reader typed (not those a follow-up takes from the conversation).
        let name_decides = coverage >= c.unknown_name_coverage
            || similarity.is_none_or(|s| s < c.confident_similarity);
        let unknown: Vec<String> = if c.decline_unknown_names && name_decides {
            super::question_names::names(&question)
                .into_iter()
                .filter(|name| !name.split(' ').all(|w| self.index.mentions(w)))
                .collect()
        } else {
            Vec::new()
        };
        let decline = if terms.is_empty() && similarity.is_none() {
            Some("the question names nothing to look for".to_string())
        } else if !unknown.is_empty() {
            Some(format!("the articles never mention {}", unknown.join(", ")))
        } else if evidence.is_empty() {
            Some("no passage matches the question".to_string())
        } else if let Some(s) = similarity {
            // With vectors, meaning decides: the best sentence and the best passage together.
            let meaning = s + passage_similarity.unwrap_or(s);
            (meaning < self.meaning_bar).then(|| {
                format!(
                    "nothing in the articles is about this (similarity {meaning:.2} of the best \
                     sentence and passage together)"
                )
            })
        } else if coverage < c.min_coverage {
            // Without vectors, the words decide: the passages and the best sentence must hold
            // enough of the question's weight.
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
        let shown = evidence.len();
        let read = self.config.model_sentences.max(1).min(evidence.len());
        // A question in the reader's own words (its meaning in no retrieved sentence) is read
        // against the best sentences and then the whole of the best retrieved passages: the
        // answer is often the sentence next to the one that matched, or in a passage whose
        // topic matches as a whole (its own vector) while no single sentence does.
        let meaning_held = c.best_sentence_holds_meaning(similarity);
        let (evidence, reading) = if sentence_coverage < c.passage_below_coverage && !meaning_held {
            let best: Vec<&SearchHit> = hits.iter().take(c.passages_read.max(1)).collect();
            evidence::with_passages(&self.index, evidence, read, &best)
        } else {
            (evidence, (0..read).collect())
        };
        let read_question = query::for_reader(&question, &request.history);
        let read_items: Vec<&Evidence> = reading.iter().map(|&i| &evidence[i]).collect();
        let messages = self.messages(&read_question, &read_items);
        Ok(Prepared {
            question,
            read_question,
            query,
            evidence,
            shown,
            decline,
            messages,
            reading,
            coverage,
            sentence_coverage,
            similarity,
            passage_similarity,
            retrieval_ms: crate::millis(started.elapsed()),
            started,
        })
    }

    /// What the model is asked, reading `evidence`.
    pub fn messages(&self, question: &str, evidence: &[&Evidence]) -> Vec<ChatMessage> {
        prompt::messages(self.config.prompt, question, evidence)
    }

    /// How the model writes an answer.
    pub fn generate_params(&self) -> GenerateParams {
        GenerateParams {
            max_tokens: self.config.max_new_tokens,
            stop: vec!["\n\n".to_string(), "Question:".to_string()],
            likely_reply: (self.config.reader_declines && self.config.not_stated_probability > 0.0)
                .then(|| LikelyReply {
                    text: prompt::NOT_STATED.to_string(),
                    min_probability: self.config.not_stated_probability,
                }),
            ..GenerateParams::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::testing::small_index;

    fn retriever() -> (tempfile::TempDir, Retriever) {
        let (dir, index) = small_index();
        (dir, Retriever::new(index, AnswerConfig::default()))
    }

    #[test]
    fn a_reader_that_declines_is_asked_to_take_a_likely_not_stated() {
        let (_dir, index) = small_index();
        let reply = |name: &str| {
            Retriever::new(index.clone(), AnswerConfig::for_model(name))
                .generate_params()
                .likely_reply
        };
        let taken = reply("qwen2.5-coder-1.5b-instruct-q4_k_m").expect("a likely reply");
        assert_eq!(taken.text, prompt::NOT_STATED);
        assert!(taken.min_probability > 0.0 && taken.min_probability < 1.0);
        assert_eq!(reply("qwen2.5-coder-0.5b-instruct-q4_k_m"), None);
        assert_eq!(reply("SmolLM2-135M-Instruct.Q4_1"), None);
    }

    #[test]
    fn the_best_sentence_is_the_evidence_and_the_reader_reads_it() {
        let (_dir, r) = retriever();
        let p = r
            .prepare(&AnswerRequest::new("Which port handles the grain exports?"))
            .unwrap();
        assert_eq!(p.decline, None, "{p:?}");
        assert!(p.evidence[0].quote.contains("Odesa"), "{:?}", p.evidence);
        assert_eq!(p.evidence[0].number, 1);
        assert_eq!(p.reading, [0]);
        // The prompt holds what the reader reads and the question.
        let prompt: String = p.messages.iter().map(|m| m.content.as_str()).collect();
        assert!(prompt.contains(&p.evidence[0].quote) && prompt.contains("grain exports"));
        assert!(p.coverage > 0.4 && p.sentence_coverage > 0.35, "{p:?}");
    }

    #[test]
    fn questions_the_articles_cannot_answer_are_declined_with_a_reason() {
        let (_dir, r) = retriever();
        let decline = |q: &str| r.prepare(&AnswerRequest::new(q)).unwrap().decline;
        // A name no article mentions, the rest in the articles' words.
        let unknown = decline("Who replaced General Petraeus as commander?").unwrap();
        assert!(
            unknown.contains("never mention General Petraeus"),
            "{unknown}"
        );
        // Nothing to look for.
        assert!(decline("Who is it?").unwrap().contains("names nothing"));
        // Too little of the question anywhere.
        assert!(decline("What is the boiling point of ethanol?").is_some());
        assert_eq!(decline("When did the bakery open?"), None);
    }

    #[test]
    fn an_article_restricts_the_evidence_and_an_unknown_one_is_an_error() {
        let (_dir, r) = retriever();
        let bakery = r
            .index()
            .articles()
            .iter()
            .find(|a| a.title.contains("bakery"));
        let request = AnswerRequest {
            article: bakery.map(|a| a.id.clone()),
            ..AnswerRequest::new("Who replaced General Zaluzhny?")
        };
        let p = r.prepare(&request).unwrap();
        assert!(
            p.evidence
                .iter()
                .all(|e| e.article_title.contains("bakery")),
            "{p:?}"
        );
        assert!(p.decline.is_some());
        let unknown = AnswerRequest {
            article: Some("nowhere".into()),
            ..AnswerRequest::new("Who?")
        };
        assert!(matches!(
            r.prepare(&unknown),
            Err(AnswerError::UnknownArticle(_))
        ));
    }
}
