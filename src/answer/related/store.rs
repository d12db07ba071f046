//! The verified suggestions of a corpus with their stored answers, and their cache on disk:
//! one file per article version (keyed by its text, the model and the settings), so an
//! unchanged article's suggestions are never made twice.
use super::rank::best_per_passage;
use super::verify::{verified_for_article, Rejection};
use super::{Source, Suggestion, Yield};
use crate::answer::{compose, AnswerRequest, Draft, Retriever};
use crate::corpus::Article;
use crate::llm::LanguageModel;
use crate::progress::{Progress, Unit};
use crate::text;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Bumped when the way suggestions are made or stored changes, so cached ones are remade.
const CACHE_FORMAT: u32 = 21;

/// Where and how suggestions are prepared.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The cache folder (one JSON file per article version).
    pub cache_dir: PathBuf,
    /// Add the model's own questions to the templates (slower to prepare, better to read).
    pub use_model: bool,
    /// Remove cached files of articles that changed or left the corpus. Off for a cache
    /// folder that several corpora share.
    pub prune_stale: bool,
    /// Read the cache but never write to it (a read-only replica): suggestions missing from
    /// it are prepared in memory.
    pub read_only: bool,
}

impl StoreOptions {
    /// The cache in a data folder, pruned, with the model's questions.
    pub fn in_data_dir(data: &Path) -> StoreOptions {
        StoreOptions {
            cache_dir: data.join("related"),
            use_model: true,
            prune_stale: true,
            read_only: false,
        }
    }
}

/// The verified suggestions of a corpus, per article (in id order), with how each source
/// fared.
#[derive(Debug, Default)]
pub struct SuggestionStore {
    pub(super) by_article: BTreeMap<String, Vec<Suggestion>>,
    pub yields: Yield,
}

#[derive(Serialize, Deserialize)]
struct CachedArticle {
    format: u32,
    key: String,
    suggestions: Vec<Suggestion>,
    yields: Yield,
}

fn cache_key(article: &Article, model: &str, use_model: bool) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(CACHE_FORMAT.to_le_bytes());
    h.update(article.id.as_bytes());
    h.update([0]);
    h.update(article.text.as_bytes());
    h.update([0]);
    h.update(model.as_bytes());
    h.update([u8::from(use_model)]);
    hex::encode(h.finalize())
}

/// The verified, pre-answered suggestions of one article: candidates verified, the best of
/// each passage kept, then each kept one answered.
pub fn build_for_article(
    retriever: &Retriever,
    model: &dyn LanguageModel,
    article: &Article,
    use_model: bool,
) -> (Vec<Suggestion>, Yield) {
    let (verified, mut yields) = verified_for_article(retriever, model, article, use_model);
    let mut out = Vec::new();
    for v in best_per_passage(retriever.index(), &article.id, verified) {
        let answer = match v.answer {
            Some(a) => a,
            None => {
                // "What does the article say about X?" is best answered by what the article
                // says: the evidence sentence, quoted. The small model, asked such an open
                // question, often recombines the sentence's names into a false claim.
                match retriever.prepare(&AnswerRequest::new(v.question.as_str())) {
                    Ok(p) if p.decline.is_none() => {
                        compose(retriever.config(), p, Draft::default())
                    }
                    _ => {
                        yields.rejected(v.source, Rejection::Declined);
                        continue;
                    }
                }
            }
        };
        out.push(Suggestion {
            question: v.question,
            source: v.source,
            article_id: article.id.clone(),
            sentence: v.sentence,
            focus: v.focus,
            answer,
        });
    }
    (out, yields)
}

fn read_cached(file: &Path, key: &str) -> Option<CachedArticle> {
    let bytes = std::fs::read(file).ok()?;
    let cached: CachedArticle = serde_json::from_slice(&bytes).ok()?;
    (cached.format == CACHE_FORMAT && cached.key == key).then_some(cached)
}

/// Written aside and renamed (after an fsync): a crash never leaves half a file, and two
/// processes filling one cache never see each other's partial files.
fn write_cached(dir: &Path, file: &Path, entry: &CachedArticle) -> std::io::Result<()> {
    use std::io::Write;
    let json = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(&json)?;
    tmp.as_file().sync_all()?;
    tmp.persist(file).map_err(|e| e.error)?;
    Ok(())
}

impl SuggestionStore {
    /// Loads each article's suggestions from the cache, building (and caching) those of
    /// articles that are new or changed.
    pub fn build(
        retriever: &Retriever,
        model: &dyn LanguageModel,
        articles: &[&Article],
        options: &StoreOptions,
        progress: &Progress,
    ) -> SuggestionStore {
        let dir = &options.cache_dir;
        if options.read_only {
            // Nothing is created.
        } else if let Err(e) = std::fs::create_dir_all(dir) {
            tracing::warn!(
                "cannot create {}: {e}; suggestions are not cached",
                dir.display()
            );
        }
        let mut task = progress.task(
            "preparing suggested questions",
            Some(articles.len() as u64),
            Unit::Items,
        );
        let mut store = SuggestionStore::default();
        let mut keep_files = HashSet::new();
        for &article in articles {
            let key = cache_key(article, model.name(), options.use_model);
            let file = dir.join(format!("{key}.json"));
            keep_files.insert(file.clone());
            let entry = match read_cached(&file, &key) {
                Some(cached) => cached,
                None => {
                    let (suggestions, yields) =
                        build_for_article(retriever, model, article, options.use_model);
                    // A build the model failed in (its server down or failing) is used
                    // but not kept: the next start builds it again.
                    let model_failed = model.status().failures_in_a_row > 0
                        || yields.sources.values().any(|y| {
                            y.rejected
                                .contains_key(&super::verify::Rejection::AnswerFailed)
                        });
                    let entry = CachedArticle {
                        format: CACHE_FORMAT,
                        key,
                        suggestions,
                        yields,
                    };
                    if options.read_only {
                        tracing::info!(
                            "suggestions of {} prepared in memory (read-only; `ama index --suggestions` caches them)",
                            article.id
                        );
                    } else if model_failed {
                        tracing::warn!(
                            "the model failed while preparing the suggestions of {}; they are not cached",
                            article.id
                        );
                    } else if let Err(e) = write_cached(dir, &file, &entry) {
                        tracing::warn!("cannot cache suggestions in {}: {e}", file.display());
                    }
                    entry
                }
            };
            store.yields.add(&entry.yields);
            store
                .by_article
                .insert(article.id.clone(), entry.suggestions);
            task.advance(1);
        }
        if options.prune_stale && !options.read_only {
            prune(dir, &keep_files);
        }
        store
    }

    /// All suggestions, article by article.
    pub fn all(&self) -> impl Iterator<Item = &Suggestion> {
        self.by_article.values().flatten()
    }

    /// A stored suggestion asked again (normalised match).
    pub fn find(&self, question: &str) -> Option<&Suggestion> {
        let norm = text::normalise(question);
        self.all().find(|s| text::normalise(&s.question) == norm)
    }

    /// Adds a verified suggestion to its article's list.
    pub fn insert(&mut self, suggestion: Suggestion) {
        self.by_article
            .entry(suggestion.article_id.clone())
            .or_default()
            .push(suggestion);
    }

    /// How many suggestions each source has in the store.
    pub fn counts(&self) -> BTreeMap<Source, usize> {
        let mut counts = BTreeMap::new();
        for s in self.all() {
            *counts.entry(s.source).or_default() += 1;
        }
        counts
    }
}

/// Cached files of articles that changed or left the corpus are stale. Only the cache's own
/// `*.json` files are removed; another process's temporary files are left alone.
fn prune(dir: &Path, keep: &HashSet<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let is_cache_file = path.extension().is_some_and(|x| x == "json");
        if is_cache_file && !keep.contains(&path) {
            let _ = std::fs::remove_file(&path);
        }
    }
}
