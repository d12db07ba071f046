//! The one root: [`assemble`] builds a ready [`Answerer`] from a plain [`Config`] — the index
//! (built when the corpus changed), the sentence embedder, the local or remote model, the
//! verified suggestions and the store of readers' questions. The CLI, the server, `eval`, the
//! benchmarks and the tests all call it; `main.rs` and `cli/` only parse flags into a
//! [`Config`] and print.
use crate::answer::related::{StoreOptions, SuggestionStore};
use crate::answer::{AnswerConfig, Answerer, ConfigError, RetrievalBudget, Retriever};
use crate::corpus::ChunkConfig;
use crate::embed::Embedder;
use crate::index::{self, IndexOptions, SearchIndex};
use crate::llm::{load_model, EngineOptions, LanguageModel, RemoteModel, RemoteOptions};
use crate::llm::{LlmError, WorkerOptions};
use crate::progress::Progress;
use crate::store::{Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why an answerer could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    #[error("indexing {corpus}: {source}")]
    Index {
        corpus: PathBuf,
        source: crate::index::IndexError,
    },
    #[error("opening the index in {data} (read-only): {source}")]
    OpenIndex {
        data: PathBuf,
        source: crate::index::IndexError,
    },
    #[error("loading the sentence embedder (or index by words only): {0}")]
    Embedder(#[source] crate::embed::EmbedError),
    #[error("fetching the model {name}: {source}")]
    Fetch {
        name: String,
        source: crate::fetch::FetchError,
    },
    #[error(transparent)]
    Model(#[from] LlmError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the answer settings: {0}")]
    Settings(#[from] ConfigError),
}

/// Where the answers' model runs.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// The engine in this process: a model by name (fetched into the models folder when
    /// missing; `None`: the default reader) or the path of a GGUF file.
    Local {
        model: Option<String>,
        engine: EngineOptions,
        worker: WorkerOptions,
    },
    /// An OpenAI-compatible server (llama.cpp's, vLLM, a hosted API).
    Remote(RemoteOptions),
}

impl Default for ModelSource {
    fn default() -> Self {
        ModelSource::Local {
            model: None,
            engine: EngineOptions::default(),
            worker: WorkerOptions::default(),
        }
    }
}

/// The store of readers' questions and feedback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StoreSource {
    /// None: questions are not recorded.
    #[default]
    None,
    /// SQLite in the data folder (`ama.sqlite`).
    DataFolder,
    /// A database URL: `sqlite:…` or `postgres://…` (shared by replicas).
    Url(String),
}

/// Everything an answerer is built from.
#[derive(Debug, Clone)]
pub struct Config {
    /// Folder of articles.
    pub corpus: PathBuf,
    /// Folder of the index and caches.
    pub data: PathBuf,
    /// Folder of model files (and the sentence embedder).
    pub models_dir: PathBuf,
    /// How passages are cut.
    pub chunking: ChunkConfig,
    /// Index and retrieve by words only (no sentence embedder).
    pub lexical: bool,
    pub model: ModelSource,
    /// Open the index `ama index` built and write nothing to the data folder (a replica).
    pub read_only: bool,
    /// A suggestions cache shared by several data folders (never pruned); `None`: the data
    /// folder's own.
    pub suggestions_cache: Option<PathBuf>,
    /// Prepare suggestions for the first this many articles only (`None`: all; `Some(0)`:
    /// none, and no related questions after answers).
    pub suggest_articles: Option<usize>,
    /// Include the model's own question candidates when preparing suggestions.
    pub suggest_with_model: bool,
    /// Where readers' questions go (and come back from as suggestions, once verified).
    pub store: StoreSource,
    /// How long the store at a database URL waits on its database.
    pub store_options: crate::store::StoreOptions,
    /// Answers kept in memory (0: none).
    pub cache_entries: usize,
    /// Retrieval shares the cores with the model on purpose ([`RetrievalBudget`]): for a
    /// server, where many readers' retrievals meet the model.
    pub share_cores: bool,
    /// Overrides of the answer flow's settings, `key=value` ([`AnswerConfig::set`]).
    pub settings: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            corpus: PathBuf::from("seeds"),
            data: PathBuf::from("data"),
            models_dir: PathBuf::from("models"),
            chunking: ChunkConfig::default(),
            lexical: false,
            model: ModelSource::default(),
            read_only: false,
            suggestions_cache: None,
            suggest_articles: None,
            suggest_with_model: true,
            store: StoreSource::None,
            store_options: Default::default(),
            cache_entries: 0,
            share_cores: false,
            settings: Vec::new(),
        }
    }
}

impl Config {
    /// How the index is built: the chunking and, unless lexical, the sentence embedder
    /// (fetched when missing, reporting to `progress`).
    pub fn index_options(&self, progress: Progress) -> Result<IndexOptions, AssembleError> {
        let embedder = if self.lexical {
            None
        } else {
            Some(Embedder::ensure(&self.models_dir, &progress).map_err(AssembleError::Embedder)?)
        };
        Ok(IndexOptions {
            chunking: self.chunking.clone(),
            progress,
            embedder,
        })
    }

    /// The index over the corpus: built (or found up to date) in the data folder, or, read
    /// only, the one `ama index` built there.
    pub fn index(&self, options: &IndexOptions) -> Result<SearchIndex, AssembleError> {
        if self.read_only {
            return open_built_index(&self.corpus, &self.data);
        }
        let (index, _) =
            index::ensure_index(&self.corpus, &self.data, options).map_err(|source| {
                AssembleError::Index {
                    corpus: self.corpus.clone(),
                    source,
                }
            })?;
        Ok(index)
    }

    /// The model: the remote server's client, or the local engine on its worker thread
    /// (fetched when missing, reporting to `progress`).
    pub fn load_model(&self, progress: &Progress) -> Result<Arc<dyn LanguageModel>, AssembleError> {
        match &self.model {
            ModelSource::Remote(options) => Ok(Arc::new(RemoteModel::connect(options.clone())?)),
            ModelSource::Local {
                model,
                engine,
                worker,
            } => {
                let path = self.model_path(model.as_deref(), progress)?;
                let loaded = load_model(&path, engine, worker.clone())?;
                let kernel = crate::llm::kernels::Kernel::selected();
                if slow_here(kernel, loaded.name()) {
                    tracing::warn!(
                        "{} runs on the {kernel:?} kernel here (no AVX-512): on two such cores an answer takes \
                         1.5-2 s; `--model qwen2.5-coder-0.5b` answers in under 1 s (README, \"Choosing a reader\")",
                        loaded.name()
                    );
                }
                Ok(loaded)
            }
        }
    }

    /// The file of a local model: a named one (fetched when missing) or the path given.
    pub fn model_path(
        &self,
        model: Option<&str>,
        progress: &Progress,
    ) -> Result<PathBuf, AssembleError> {
        let name = model.unwrap_or(crate::fetch::default_model().name);
        match crate::fetch::named(name) {
            Some(m) => {
                crate::fetch::ensure_named(&self.models_dir, m, progress).map_err(|source| {
                    AssembleError::Fetch {
                        name: name.to_string(),
                        source,
                    }
                })
            }
            None => Ok(PathBuf::from(name)),
        }
    }

    /// Opens the store of readers' questions; `None` when there is none.
    pub fn open_store(&self) -> Result<Option<Arc<Store>>, AssembleError> {
        Ok(match &self.store {
            StoreSource::None => None,
            StoreSource::DataFolder => Some(Arc::new(Store::sqlite_in(&self.data)?)),
            StoreSource::Url(url) => Some(Arc::new(Store::open_with(url, self.store_options)?)),
        })
    }

    /// Where the suggestions are cached.
    fn suggestion_options(&self) -> StoreOptions {
        let mut options = match &self.suggestions_cache {
            Some(dir) => StoreOptions {
                cache_dir: dir.clone(),
                use_model: true,
                prune_stale: false,
                read_only: false,
            },
            None => StoreOptions::in_data_dir(&self.data),
        };
        options.read_only = self.read_only;
        options.use_model &= self.suggest_with_model;
        options
    }
}

/// A ready answerer over `config`, recording readers' questions in `store` (opened with
/// [`Config::open_store`]; the server opens it first, for feedback). Reports the index
/// build, the fetches and the suggestions' preparation to `progress`.
pub fn assemble(
    config: &Config,
    store: Option<Arc<Store>>,
    progress: &Progress,
) -> Result<Answerer, AssembleError> {
    let options = config.index_options(progress.clone())?;
    let index = config.index(&options)?;
    let model = config.load_model(progress)?;
    let mut settings = AnswerConfig::for_model(model.name());
    settings.apply(config.settings.iter().map(String::as_str))?;
    let mut retriever = Retriever::new(Arc::new(index), settings).with_embedder(options.embedder);
    if config.share_cores {
        retriever = retriever.with_budget(Arc::new(RetrievalBudget::shared_with_the_model()));
    }
    let retriever = Arc::new(retriever);
    let answerer = Answerer::new(retriever.clone(), model.clone()).with_cache(config.cache_entries);
    let articles: Vec<_> = retriever
        .index()
        .articles()
        .iter()
        .take(config.suggest_articles.unwrap_or(usize::MAX))
        .collect();
    if articles.is_empty() {
        return Ok(match store {
            Some(store) => answerer.with_question_log(store),
            None => answerer,
        });
    }
    let mut suggestions = SuggestionStore::build(
        &retriever,
        model.as_ref(),
        &articles,
        &config.suggestion_options(),
        progress,
    );
    Ok(match store {
        Some(store) => {
            suggestions.add_reader_questions(&retriever, store.as_ref());
            answerer
                .with_suggestions(Arc::new(suggestions))
                .with_question_log(store)
        }
        None => answerer.with_suggestions(Arc::new(suggestions)),
    })
}

/// Whether a reader is slow on `kernel`: one of a billion parameters or more without
/// AVX-512, about four times slower than with it
/// ([figures](../docs/benchmarks/2026-12-07-avx2-host.md)).
fn slow_here(kernel: crate::llm::kernels::Kernel, model_name: &str) -> bool {
    use crate::llm::kernels::Kernel;
    matches!(kernel, Kernel::Avx2 | Kernel::Portable) && crate::answer::billion_or_more(model_name)
}

/// The index `ama index` built in `data`, opened without writing; a warning when the corpus
/// folder has changed since.
fn open_built_index(corpus: &Path, data: &Path) -> Result<SearchIndex, AssembleError> {
    let opened = index::open(data).map_err(|source| AssembleError::OpenIndex {
        data: data.to_path_buf(),
        source,
    })?;
    if corpus.is_dir() && !index::is_current(corpus, data) {
        tracing::warn!(
            "the index in {} is older than {}: run `ama index` to rebuild it (replicas pick it up when restarted)",
            data.display(),
            corpus.display()
        );
    }
    Ok(opened)
}

#[cfg(test)]
mod tests {
    use super::slow_here;
    use crate::llm::kernels::Kernel;

    #[test]
    fn a_billion_parameter_reader_is_slow_only_without_avx512() {
        let big = "qwen2.5-coder-1.5b-instruct-q4_k_m";
        assert!(slow_here(Kernel::Avx2, big));
        assert!(slow_here(Kernel::Portable, big));
        assert!(!slow_here(Kernel::Avx512Vnni, big));
        assert!(!slow_here(Kernel::Amx, big));
        assert!(!slow_here(
            Kernel::Avx2,
            "qwen2.5-coder-0.5b-instruct-q4_k_m"
        ));
        assert!(!slow_here(Kernel::Avx2, "SmolLM2-135M-Instruct.Q4_1"));
    }
}
