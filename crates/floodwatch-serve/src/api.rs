//! The JSON API: what the pages show and every action, for SOAR tools and scripts.
//!
//! - `GET /api/session`: `{"csrf": …}`, the token every POST must send as `X-CSRF-Token`.
//! - `GET /api/alerts?host=&state=&severity=&q=&from=&to=&page=`: a page of the queue (highest score
//!   first), the total the filters keep and the count per state.
//! - `GET /api/alerts/{id}`: the row, the whole stored alert, and its history.
//! - `GET /api/suppressions`: every suppression with its hits and history fields.
//! - `GET /api/baselines`: every learned baseline, with whether it is mature.
//! - `GET /api/coverage`: the newest coverage report stored by `coverage --db`, or null.
//! - `POST /api/suppressions` with `{id, owner, reason, expires, by, match: {...}, ceiling: {...}}`: a
//!   suppression, validated as `suppress add` validates it.
//! - `POST /api/alerts/{id}/ack|fp|unmark` with `{"by": …, "reason": …}`: the same marks the CLI
//!   writes (`floodwatch alerts ack …`), with who and why.

use crate::guard::csrf_header_ok;
use crate::pages::{mark_of, queue_filter, QueueQuery, PAGE};
use crate::{with_store, AppState, Failure};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use floodwatch_core::Ts;
use floodwatch_engine::suppress::EntryFields;
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
    let page = f.page.unwrap_or(1).max(1);
    let filter = queue_filter(&f, page);
    let q = with_store(&state, move |st| st.queue(&filter)).await?;
    Ok(Json(json!({
        "total": q.total,
        "page": page,
        "per_page": PAGE,
        "counts": q.counts,
        "alerts": q.rows,
    })))
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

/// Every learned baseline (identity × parent class × role), with its maturity and statistics.
pub async fn baselines(
    State(state): State<Arc<AppState>>,
) -> Result<Json<serde_json::Value>, Failure> {
    let rows = with_store(&state, |st| st.list_baselines(None)).await?;
    let (w, d) = (state.baseline_min_windows, state.baseline_min_days);
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| json!({ "mature": r.windows >= w && r.days >= d, "baseline": r }))
        .collect();
    Ok(Json(
        json!({ "min_windows": w, "min_days": d, "baselines": rows }),
    ))
}

/// `POST /api/suppressions`: one suppression, as `suppress add` takes it.
#[derive(Deserialize)]
pub struct NewSuppressionBody {
    pub id: String,
    pub owner: String,
    pub reason: String,
    pub expires: String,
    pub by: String,
    /// Any of `signing_id`, `team_id`, `path`, `argv`, `parent`, `user`, `host`, `destination`.
    #[serde(default, rename = "match")]
    pub matches: std::collections::BTreeMap<String, String>,
    /// Any of `spawns_per_s`, `packets_per_s`, `bytes_per_s`, `connections_per_s`.
    #[serde(default)]
    pub ceiling: std::collections::BTreeMap<String, f64>,
}

const MATCH_KEYS: [&str; 8] = [
    "signing_id",
    "team_id",
    "path",
    "argv",
    "parent",
    "user",
    "host",
    "destination",
];
const CEILING_KEYS: [&str; 4] = [
    "spawns_per_s",
    "packets_per_s",
    "bytes_per_s",
    "connections_per_s",
];

pub async fn add_suppression(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Json(body): Json<NewSuppressionBody>,
) -> Result<Response, Failure> {
    if !csrf_header_ok(&state, &headers) {
        return Ok((StatusCode::FORBIDDEN, "missing or wrong X-CSRF-Token").into_response());
    }
    let known = |keys: &[&'static str], k: &str| keys.iter().find(|x| **x == k).copied();
    let mut matches = Vec::new();
    for (k, v) in &body.matches {
        let key = known(&MATCH_KEYS, k)
            .ok_or_else(|| Failure::BadRequest(format!("unknown match key {k:?}")))?;
        matches.push((key, v.clone()));
    }
    let mut ceilings = Vec::new();
    for (k, v) in &body.ceiling {
        let key = known(&CEILING_KEYS, k)
            .ok_or_else(|| Failure::BadRequest(format!("unknown ceiling key {k:?}")))?;
        ceilings.push((key, *v));
    }
    let fields = EntryFields {
        id: Some(body.id.clone()),
        owner: Some(body.owner.clone()),
        reason: Some(body.reason.clone()),
        expires: Some(body.expires.clone()),
        matches,
        ceilings,
    };
    crate::pages::add_suppression(&state, &fields, &body.by, "the request").await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": body.id }))).into_response())
}

/// The newest stored coverage report (`coverage --db`), or `null`.
pub async fn coverage(
    State(state): State<Arc<AppState>>,
) -> Result<Json<serde_json::Value>, Failure> {
    let latest = with_store(&state, |st| st.latest_coverage()).await?;
    Ok(Json(match latest {
        Some((at, paths, report)) => json!({
            "recorded_at": at,
            "paths": paths,
            "report": serde_json::from_str::<serde_json::Value>(&report).unwrap_or_default(),
        }),
        None => serde_json::Value::Null,
    }))
}

/// The agent's health as it last wrote it (null without a state file or before it wrote any).
pub async fn health(
    State(state): State<Arc<AppState>>,
) -> Result<Json<serde_json::Value>, Failure> {
    Ok(Json(crate::pages::agent_health(&state)?.map_or(
        serde_json::Value::Null,
        |(age, v)| json!({"age_s": age, "health": v}),
    )))
}
