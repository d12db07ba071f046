//! The HTTP service: the product's JSON and streaming API, an OpenAI-compatible chat API,
//! health checks and the embedded chat page, over one `Answerer` shared in an `Arc`.
//!
//! The server binds first and loads after: `/healthz` answers at once, `/readyz` and the API
//! answer 503 (with `Retry-After`) until the index and the model are ready.
pub mod answering;
pub mod api;
pub mod error;
pub mod extract;
pub mod openai;
pub mod request;
pub mod static_files;

use crate::answer::Answerer;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use error::ApiError;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Limit on one request, streaming included.
    pub request_timeout: Duration,
    /// Where readers' "was this useful" verdicts go.
    pub feedback_log: Option<PathBuf>,
    /// How long in-flight requests may run after a shutdown signal.
    pub shutdown_grace: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            request_timeout: Duration::from_secs(60),
            feedback_log: None,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// What every handler shares.
pub struct AppState {
    answerer: OnceLock<Arc<Answerer>>,
    pub options: ServerOptions,
    /// Unix time the server started (the model's `created` in `/v1/models`).
    pub created: u64,
}

impl AppState {
    pub fn new(options: ServerOptions) -> Arc<AppState> {
        Arc::new(AppState {
            answerer: OnceLock::new(),
            options,
            created: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        })
    }

    /// Makes the server ready; a second call is ignored.
    pub fn set_answerer(&self, answerer: Arc<Answerer>) {
        let _ = self.answerer.set(answerer);
    }

    pub fn answerer(&self) -> Result<Arc<Answerer>, ApiError> {
        self.answerer.get().cloned().ok_or(ApiError::NotReady)
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/api/ask", post(api::ask))
        .route("/api/ask/stream", post(api::ask_stream))
        .route("/api/articles", get(api::articles))
        .route("/api/articles/{id}", get(api::article))
        .route("/api/search", get(api::search))
        .route("/api/feedback", post(api::feedback))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/models", get(openai::models))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .method_not_allowed_fallback(method_not_allowed);
    api.fallback(static_files::serve)
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(on_panic))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}",
        request.method(),
        request.uri().path()
    ))
}

fn on_panic(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Internal("the request failed unexpectedly".into()).into_response()
}

/// One log line per request: method, path, status, latency (to the response head; a stream
/// goes on after it).
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        "{method} {path} {} {:.1} ms",
        response.status().as_u16(),
        crate::millis(started.elapsed())
    );
    response
}

/// Serves until `shutdown` completes, then lets in-flight requests finish for the grace
/// period; streams still open after it are dropped, which cancels their generation.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = state.options.shutdown_grace;
    let signalled = Arc::new(tokio::sync::Notify::new());
    let notify = signalled.clone();
    let server = axum::serve(listener, router(state)).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
        notify.notify_one();
    });
    tokio::select! {
        result = server => result,
        _ = async {
            signalled.notified().await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("requests still open after {} s were cancelled", grace.as_secs());
            Ok(())
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

#[cfg(test)]
mod tests;
