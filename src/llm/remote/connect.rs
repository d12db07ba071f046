//! Connecting: the pooled HTTP client, the model asked of the server when none is given, and
//! the name the model goes by.
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::options::Endpoints;
use super::probe::{list_models, probe_while_down, DOWN_AFTER};
use super::{RemoteModel, RemoteOptions, Shared};
use crate::health::Health;
use crate::llm::LlmError;
use crate::runtime::BackgroundTasks;

impl RemoteModel {
    /// The client for `options.url`. Asks the server for its model when none is given; a
    /// server that is down at start is not an error (answers degrade until it is up).
    /// Blocks while it asks: not for async threads.
    pub fn connect(options: RemoteOptions) -> Result<RemoteModel, LlmError> {
        let endpoints = Endpoints::parse(&options.url)?;
        let client = http_client(&options)?;
        let tasks = BackgroundTasks::start()
            .map_err(|e| LlmError::Remote(format!("cannot start the client's runtime: {e}")))?;
        let model = match &options.model {
            Some(model) => model.clone(),
            None => {
                let probe = tasks
                    .handle()
                    .block_on(list_models(&client, &endpoints.models));
                match probe {
                    Ok(models) => models.into_iter().next().unwrap_or_default(),
                    Err(e) => {
                        tracing::warn!("the model server does not answer yet: {e}");
                        String::new()
                    }
                }
            }
        };
        let name = display_name(&model);
        let shared = Arc::new(Shared {
            client,
            endpoints,
            model,
            slots: Arc::new(Semaphore::new(options.concurrency.max(1))),
            options,
            in_flight: AtomicUsize::new(0),
            health: Health::new(DOWN_AFTER),
        });
        tasks.spawn(probe_while_down(Arc::downgrade(&shared)));
        tracing::info!(
            url = shared.endpoints.chat,
            model = name,
            concurrency = shared.options.concurrency,
            "remote model server"
        );
        Ok(RemoteModel {
            name,
            shared,
            tasks,
        })
    }
}

/// One pooled client with the API key, if any, on every request.
fn http_client(options: &RemoteOptions) -> Result<reqwest::Client, LlmError> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = &options.api_key {
        let value = reqwest::header::HeaderValue::from_str(&format!("Bearer {key}"))
            .map_err(|_| LlmError::Remote("the API key is not a valid header value".into()))?;
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .connect_timeout(options.connect_timeout)
        .read_timeout(options.idle_timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("ama/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| LlmError::Remote(format!("cannot build the HTTP client: {e}")))
}

/// `remote:` and the model's file stem (`remote:default` when the server chooses).
fn display_name(model: &str) -> String {
    let shown = if model.is_empty() { "default" } else { model };
    format!(
        "remote:{}",
        std::path::Path::new(shown)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or(shown)
    )
}
