//! Who may ask, and what every answer carries.
//!
//! - With a token (required beyond loopback), a request needs `Authorization: Bearer <token>` or the
//!   `floodwatch_token` cookie; `/?token=<token>` sets that cookie once (HttpOnly, SameSite=Strict)
//!   and redirects to the page without it, so a browser can log in. Anything else is 401.
//! - Every answer says `Content-Security-Policy: default-src 'self'; frame-ancestors 'none'` (no
//!   inline script can run, even if some text slipped through), `X-Content-Type-Options: nosniff`,
//!   `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`.
//! - A state-changing request is a POST carrying the CSRF token (`X-CSRF-Token` header or `csrf`
//!   form field, checked by the handler): 403 without it. A GET never changes state.

use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::io::Read;
use std::sync::Arc;

const COOKIE: &str = "floodwatch_token";

/// 16 random bytes as hex, from the kernel.
pub fn random_token() -> std::io::Result<String> {
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Equal without telling how much of a guess was right by how long the answer took.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether a POST carries the CSRF token in its header.
pub fn csrf_header_ok(state: &AppState, headers: &axum::http::HeaderMap) -> bool {
    headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| same(t, &state.csrf))
}

fn presented_token(req: &Request) -> Option<String> {
    let h = req.headers();
    if let Some(b) = h
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(b.trim().to_string());
    }
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(&format!("{COOKIE}="))
                .map(str::to_string)
        })
}

fn query_token(req: &Request) -> Option<String> {
    req.uri()
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("token=").map(str::to_string))
}

pub async fn check(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let mut resp = match &state.token {
        None => next.run(req).await,
        Some(token) => {
            if let Some(q) = query_token(&req) {
                if same(&q, token) {
                    // Log in: the cookie, then the same page without the token in its address.
                    let path = req.uri().path().to_string();
                    let cookie = format!("{COOKIE}={q}; HttpOnly; SameSite=Strict; Path=/");
                    let mut r = (StatusCode::SEE_OTHER, "").into_response();
                    if let (Ok(loc), Ok(c)) =
                        (HeaderValue::from_str(&path), HeaderValue::from_str(&cookie))
                    {
                        r.headers_mut().insert(header::LOCATION, loc);
                        r.headers_mut().insert(header::SET_COOKIE, c);
                    }
                    r
                } else {
                    (StatusCode::UNAUTHORIZED, "wrong token").into_response()
                }
            } else if presented_token(&req).is_some_and(|t| same(&t, token)) {
                next.run(req).await
            } else {
                (
                    StatusCode::UNAUTHORIZED,
                    "a token is required: Authorization: Bearer <token>, or open /?token=<token> once",
                )
                    .into_response()
            }
        }
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}
