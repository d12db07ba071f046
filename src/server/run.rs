//! `ama serve` as one library function: take the data folder's lock, open the store, bind (so
//! `/healthz` answers at once), assemble the answerer while serving (`/readyz` says 503 until
//! it is ready), serve until the shutdown signal, then flush readers' questions to the store.
use super::data_lock::{DataLock, DataLockError};
use super::{serve, shutdown_signal, AppState, ServerOptions};
use crate::assemble::{assemble, AssembleError, Config};
use crate::progress::Progress;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Why the service stopped or never started.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("creating {path}: {source}")]
    DataFolder {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Lock(#[from] DataLockError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("preparing the answerer: {0}")]
    Assemble(#[from] AssembleError),
    #[error("preparing the answerer failed: {0}")]
    Loading(#[from] tokio::task::JoinError),
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// What `serve` runs.
pub struct Launch {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub addr: String,
    pub server: ServerOptions,
    /// What the answerer is assembled from (its `read_only` also spares the data folder).
    pub answerer: Config,
    /// Record readers' questions in the store (and offer them back once verified).
    pub log_questions: bool,
}

/// Runs the service until Ctrl-C or SIGTERM; `on_listening` hears the bound address first
/// (for scripts and tests that start it on port 0), `progress` the assembly's work.
pub async fn run(
    launch: Launch,
    progress: Progress,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), RunError> {
    let config = launch.answerer;
    let _data_lock = if config.read_only {
        None
    } else {
        std::fs::create_dir_all(&config.data).map_err(|source| RunError::DataFolder {
            path: config.data.clone(),
            source,
        })?;
        Some(DataLock::acquire(&config.data)?)
    };
    // Opened first: feedback is recorded from the start, answers once ready.
    let store = config.open_store()?;
    let state = AppState::with_store(launch.server, store.clone());
    let listener = tokio::net::TcpListener::bind(&launch.addr)
        .await
        .map_err(|source| RunError::Bind {
            addr: launch.addr.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(RunError::Serve)?;
    on_listening(addr);
    tracing::info!("listening on http://{addr}; preparing the index and the model");

    // Index, model and suggestions load while /healthz already answers.
    let loading = {
        let state = state.clone();
        let question_log = store.clone().filter(|_| launch.log_questions);
        tokio::task::spawn_blocking(move || -> Result<(), AssembleError> {
            let answerer = assemble(&config, question_log, &progress)?;
            tracing::info!(
                articles = answerer.index().articles().len(),
                passages = answerer.index().passages().len(),
                model = answerer.model().name(),
                "ready: open http://{addr}/"
            );
            state.set_answerer(Arc::new(answerer));
            Ok(())
        })
    };
    let server = serve(listener, state, shutdown_signal());
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result.map_err(RunError::Serve),
        loaded = loading => loaded??,
    }
    let served = server.await.map_err(RunError::Serve);
    // What readers did last reaches the database before the process ends (or is reported).
    if let Some(store) = store {
        let flushed = tokio::task::spawn_blocking(move || store.flush(Duration::from_secs(3)))
            .await
            .unwrap_or(false);
        if !flushed {
            tracing::warn!("some readers' questions or feedback could not be written to the store");
        }
    }
    served
}
