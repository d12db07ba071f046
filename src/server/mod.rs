//! The HTTP service: the product's JSON and streaming API, an OpenAI-compatible chat API,
//! health checks and the embedded chat page, over one `Answerer` shared in an `Arc`.
//!
//! The server binds first and loads after: `/healthz` answers at once, `/readyz` and the API
//! answer 503 (with `Retry-After`) until the index and the model are ready.
//!
//! In front of every handler: the Host and Origin policy ([`guard`]), cross-origin use by the
//! embeddable widget on allowed sites ([`cors`]), per-client rate limits
//! ([`limits`]), a body-read deadline and the body size limit. The accept loop ([`serve`])
//! caps open connections and gives a client a deadline to send its request head.
pub mod answering;
pub mod api;
pub mod cors;
pub mod data_lock;
pub mod demo;
pub mod error;
pub mod extract;
pub mod guard;
pub mod limits;
pub mod lookup;
pub mod openai;
pub mod openapi;
pub mod request;
mod run;
pub mod static_files;
pub mod widget;

pub use run::{run, Launch, RunError};

use crate::answer::Answerer;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use error::ApiError;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Limit on one request, streaming included.
    pub request_timeout: Duration,
    /// A replica that writes nothing to its data folder: without a store, feedback is refused.
    pub read_only: bool,
    /// How long in-flight requests may run after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Which hosts the server answers and which pages may write to it.
    pub access: guard::AccessPolicy,
    /// A client must send its whole request head within this, and its body within this.
    pub read_timeout: Duration,
    /// Connections open at once; more wait in the listen queue.
    pub max_connections: usize,
    /// Per-client limit on the routes that run the model (`None`: no limit).
    pub model_rate: Option<limits::RateQuota>,
    /// Per-client limit on feedback (`None`: no limit).
    pub feedback_rate: Option<limits::RateQuota>,
    /// How long a plain JSON request for a question being answered, or asked before and not
    /// answered by the model yet, waits for its answer before it gets the quoted evidence
    /// instead (streams follow the answer as it is written).
    pub follow_wait: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            request_timeout: Duration::from_secs(60),
            read_only: false,
            shutdown_grace: Duration::from_secs(10),
            access: guard::AccessPolicy::default(),
            read_timeout: Duration::from_secs(10),
            max_connections: 512,
            model_rate: limits::RateQuota::per_minute(60, 20),
            feedback_rate: limits::RateQuota::per_minute(30, 10),
            follow_wait: Duration::from_millis(500),
        }
    }
}

/// What every handler shares.
pub struct AppState {
    answerer: OnceLock<Arc<Answerer>>,
    pub options: ServerOptions,
    pub limits: limits::Limits,
    /// Unix time the server started (the model's `created` in `/v1/models`).
    pub created: u64,
    /// Where feedback goes (readers' questions go there through the answerer).
    pub store: Option<Arc<crate::store::Store>>,
}

impl AppState {
    /// A server without a store: feedback is accepted and not kept.
    pub fn new(options: ServerOptions) -> Arc<AppState> {
        AppState::with_store(options, None)
    }

    pub fn with_store(
        options: ServerOptions,
        store: Option<Arc<crate::store::Store>>,
    ) -> Arc<AppState> {
        Arc::new(AppState {
            store,
            answerer: OnceLock::new(),
            limits: limits::Limits::new(options.model_rate, options.feedback_rate),
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

/// The API's routes (what `/openapi.json` documents; the page and `/openapi.json` itself aside).
pub const API_ROUTES: &[&str] = &[
    "/api/ask",
    "/api/ask/stream",
    "/v1/chat/completions",
    "/api/feedback",
    "/api/articles",
    "/api/articles/{id}",
    "/api/widget/article",
    "/api/search",
    "/v1/models",
    "/healthz",
    "/readyz",
];

pub fn router(state: Arc<AppState>) -> Router {
    let model = Router::new()
        .route("/api/ask", post(api::ask))
        .route("/api/ask/stream", post(api::ask_stream))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route_layer(middleware::from_fn_with_state(state.clone(), limits::model));
    let feedback = Router::new()
        .route("/api/feedback", post(api::feedback))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            limits::feedback,
        ));
    let api = Router::new()
        .route("/api/articles", get(api::articles))
        .route("/api/articles/{id}", get(api::article))
        .route("/api/widget/article", get(lookup::widget_article))
        .route("/widget.js", get(widget::serve))
        .route("/demo", get(demo::index))
        .route("/demo/", get(demo::index))
        .route("/demo/{id}", get(demo::article))
        .route("/api/search", get(api::search))
        .route("/v1/models", get(openai::models))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/openapi.json", get(openapi::document))
        .merge(model)
        .merge(feedback)
        .method_not_allowed_fallback(method_not_allowed);
    let read_timeout = state.options.read_timeout;
    api.fallback(static_files::serve)
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            read_timeout,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(on_panic))
        .layer(middleware::from_fn_with_state(state.clone(), cors::check))
        .layer(middleware::from_fn_with_state(state.clone(), guard::check))
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
///
/// At most [`ServerOptions::max_connections`] connections are served at once (the next waits
/// in the listen queue), and a client has [`ServerOptions::read_timeout`] to send its request
/// head, on a new connection and between keep-alive requests.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let grace = state.options.shutdown_grace;
    let slots = Arc::new(tokio::sync::Semaphore::new(
        state.options.max_connections.max(1),
    ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(state.options.read_timeout)
        .keep_alive(true);
    let app = router(state);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            _ = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: wait instead of spinning.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = tower::ServiceExt::map_request(
            app.clone(),
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request.map(axum::body::Body::new)
            },
        );
        let connection = http.serve_connection(
            TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection from {peer} ended: {e}");
            }
            drop(slot);
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(grace) => {
            tracing::warn!("requests still open after {} s were cancelled", grace.as_secs());
        }
    }
    Ok(())
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
