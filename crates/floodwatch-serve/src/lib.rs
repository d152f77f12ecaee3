//! floodwatch-serve: the triage web UI and its JSON API, over the store that `hunt --db` writes.
//!
//! - [`guard`]: who may ask (loopback by default; any other address needs a token), what every
//!   answer carries (a strict Content-Security-Policy, no sniffing, no framing), and the CSRF token
//!   every state-changing request must carry.
//! - [`pages`]: server-rendered HTML (askama, auto-escaped; hostile control and bidi characters made
//!   visible first) for the queue and an alert.
//! - [`api`]: the same data and actions as JSON under `/api/`.
//!
//! The store is opened once (its integrity checked) and kept (WAL, busy timeout), so a running hunt
//! and the server work on it at the same time; a store that stays locked is a 503 with a message,
//! not a 500.

pub mod api;
pub mod guard;
pub mod pages;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use floodwatch_store::Store;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub db: PathBuf,
    pub listen: SocketAddr,
    /// Required on any address but loopback.
    pub token: Option<String>,
    /// How long the store waits for another writer (the config's `[store] busy_timeout`).
    pub busy_timeout: Duration,
    /// When a baseline is mature (the config's `[baseline] min_windows` and `min_days`).
    pub baseline_min_windows: u64,
    pub baseline_min_days: f64,
    /// The agent's state file (`agent.state`), for the health page.
    pub agent_state: Option<PathBuf>,
}

/// What every handler shares.
pub struct AppState {
    /// One connection for the server's life: opening checks every page of the file (quick_check),
    /// which is right once at start and far too slow per request on a large store. WAL lets a hunt
    /// write meanwhile; requests take turns on it.
    pub store: std::sync::Mutex<Store>,
    pub token: Option<String>,
    /// Random per server start; pages embed it in their forms, `/api/session` hands it out.
    pub csrf: String,
    pub baseline_min_windows: u64,
    pub baseline_min_days: f64,
    pub agent_state: Option<PathBuf>,
}

/// The server's routes, for `serve` and for tests.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(pages::queue))
        .route("/alerts/{id}", get(pages::alert))
        .route("/alerts/{id}/mark", post(pages::mark))
        .route("/alerts/{id}/suppress", post(pages::suppress))
        .route("/suppressions", get(pages::suppressions))
        .route(
            "/api/suppressions",
            get(api::suppressions).post(api::add_suppression),
        )
        .route("/baselines", get(pages::baselines))
        .route("/coverage", get(pages::coverage))
        .route("/health", get(pages::health))
        .route("/api/health", get(api::health))
        .route("/api/coverage", get(api::coverage))
        .route("/api/baselines", get(api::baselines))
        .route("/static/style.css", get(pages::style))
        .route("/api/session", get(api::session))
        .route("/api/alerts", get(api::alerts))
        .route("/api/alerts/{id}", get(api::alert))
        .route("/api/alerts/{id}/{action}", post(api::mark))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check,
        ))
        .with_state(state)
}

/// Refuses to listen beyond loopback without a token: telemetry and the alert lifecycle are not for
/// whoever reaches the port.
pub fn check_listen(cfg: &ServeConfig) -> Result<(), String> {
    if !cfg.listen.ip().is_loopback() && cfg.token.as_deref().is_none_or(str::is_empty) {
        return Err(format!(
            "refusing to listen on {} without a token: give --token-file, or listen on 127.0.0.1",
            cfg.listen
        ));
    }
    Ok(())
}

/// Binds and serves until Ctrl-C / SIGTERM.
pub fn serve(cfg: ServeConfig) -> Result<(), String> {
    check_listen(&cfg)?;
    // Opened once, up front: a wrong path is a message before the server starts.
    let store = Store::open_existing(&cfg.db, cfg.busy_timeout).map_err(|e| e.to_string())?;
    let state = Arc::new(AppState {
        store: std::sync::Mutex::new(store),
        baseline_min_windows: cfg.baseline_min_windows,
        baseline_min_days: cfg.baseline_min_days,
        agent_state: cfg.agent_state.clone(),
        token: cfg.token.clone(),
        csrf: guard::random_token()
            .map_err(|e| format!("no randomness for the CSRF token: {e}"))?,
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the server runtime: {e}"))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|e| format!("listening on {}: {e}", cfg.listen))?;
        eprintln!(
            "floodwatch serve: http://{} (store {})",
            listener.local_addr().map_err(|e| e.to_string())?,
            cfg.db.display()
        );
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| e.to_string())
    })
}

/// A request's failure, as the page or API shows it.
pub enum Failure {
    NotFound(String),
    BadRequest(String),
    /// The store is locked by a writer beyond the busy timeout, or cannot be read.
    Store(String),
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (code, text) = match self {
            Failure::NotFound(t) => (StatusCode::NOT_FOUND, t),
            Failure::BadRequest(t) => (StatusCode::BAD_REQUEST, t),
            Failure::Store(t) => (StatusCode::SERVICE_UNAVAILABLE, t),
        };
        (code, text).into_response()
    }
}

/// Runs `f` on the store, off the async thread.
pub(crate) async fn with_store<T: Send + 'static>(
    state: &Arc<AppState>,
    f: impl FnOnce(&mut Store) -> floodwatch_core::Result<T> + Send + 'static,
) -> Result<T, Failure> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let mut store = state.store.lock().map_err(|_| {
            Failure::Store("the store connection was poisoned by a failed request".into())
        })?;
        f(&mut store).map_err(|e| Failure::Store(format!("the store answered: {e}")))
    })
    .await
    .map_err(|e| Failure::Store(format!("store task failed: {e}")))?
}
