//! The JSON API: what the pages show and every action, for SOAR tools and scripts.
//!
//! - `GET /api/session`: `{"csrf": …}`, the token every POST must send as `X-CSRF-Token`.
//! - `GET /api/alerts?host=&state=&severity=&q=&page=`: the queue's rows (highest priority first).
//! - `GET /api/alerts/{id}`: the row, the whole stored alert, and its history.
//! - `GET /api/suppressions`: every suppression with its hits and history fields.
//! - `POST /api/alerts/{id}/ack|fp|unmark` with `{"by": …, "reason": …}`: the same marks the CLI
//!   writes (`floodwatch alerts ack …`), with who and why.

use crate::guard::csrf_header_ok;
use crate::pages::{filtered, mark_of, QueueQuery, PAGE};
use crate::{with_store, AppState, Failure};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use floodwatch_core::Ts;
use floodwatch_store::alerts::AlertFilter;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

pub async fn session(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(json!({ "csrf": state.csrf }))
}

pub async fn alerts(
    State(state): State<Arc<AppState>>,
    Query(f): Query<QueueQuery>,
) -> Result<Json<serde_json::Value>, Failure> {
    let host = f.host.clone().filter(|h| !h.is_empty());
    let all = with_store(&state, move |st| {
        st.list_alerts(&AlertFilter {
            host,
            state: None,
            suppressed: true,
            limit: None,
        })
    })
    .await?;
    let rows = filtered(all, &f);
    let total = rows.len();
    let page = f.page.unwrap_or(1).max(1);
    let rows: Vec<_> = rows
        .into_iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .collect();
    Ok(Json(
        json!({ "total": total, "page": page, "per_page": PAGE, "alerts": rows }),
    ))
}

pub async fn alert(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, Failure> {
    let key = id.clone();
    match with_store(&state, move |st| st.alert(&key)).await? {
        Some((row, json, history)) => Ok(Json(json!({
            "alert": row,
            "detail": serde_json::from_str::<serde_json::Value>(&json).unwrap_or_default(),
            "history": history,
        }))),
        None => Err(Failure::NotFound(format!("no alert {id:?}"))),
    }
}

#[derive(Deserialize)]
pub struct MarkBody {
    pub by: String,
    pub reason: String,
}

pub async fn mark(
    State(state): State<Arc<AppState>>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<MarkBody>,
) -> Result<Response, Failure> {
    if !csrf_header_ok(&state, &headers) {
        return Ok((StatusCode::FORBIDDEN, "missing or wrong X-CSRF-Token").into_response());
    }
    let Some(m) = mark_of(&action) else {
        return Err(Failure::NotFound(format!(
            "no action {action:?} (ack, fp, unmark)"
        )));
    };
    if body.by.trim().is_empty() || body.reason.trim().is_empty() {
        return Err(Failure::BadRequest("by and reason are required".into()));
    }
    let key = id.clone();
    match with_store(&state, move |st| {
        st.mark_alert(&key, m, body.by.trim(), body.reason.trim(), Ts::now())
    })
    .await?
    {
        Some(full) => Ok(Json(json!({ "id": full, "mark": action })).into_response()),
        None => Err(Failure::NotFound(format!("no alert {id:?}"))),
    }
}

/// Every suppression the store knows, with its hits and last hit (`suppress list --json`).
pub async fn suppressions(
    State(state): State<Arc<AppState>>,
) -> Result<Json<serde_json::Value>, Failure> {
    let rows = with_store(&state, |st| st.list_suppressions()).await?;
    Ok(Json(json!({ "suppressions": rows })))
}
