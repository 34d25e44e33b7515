//! One error type for every handler, turned into an RFC 9457 problem+json response in one place.

use crate::db::DbError;
use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Also what a user gets for another tenant's or account's object: its existence is not
    /// revealed.
    #[error("not found")]
    NotFound,
    #[error("sign-in required")]
    Unauthorized,
    #[error("not allowed")]
    Forbidden,
    /// Not allowed, and the caller may know why (an agent reporting another dealer's device).
    #[error("refused: {0}")]
    Refused(String),
    /// Bad input, with one message per field where known.
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    #[error("too large: {0}")]
    TooLarge(String),
    /// Too many attempts: try again after this many seconds.
    #[error("too many attempts; try again in {0} seconds")]
    TooManyRequests(i64),
    /// A fault of ours; the details go to the log, not to the client.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

#[derive(Debug, Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::Refused(_) => StatusCode::FORBIDDEN,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<crate::auth::Forbidden> for ApiError {
    fn from(e: crate::auth::Forbidden) -> Self {
        Self::Refused(e.to_string())
    }
}

impl From<crate::auth::throttle::Throttled> for ApiError {
    fn from(t: crate::auth::throttle::Throttled) -> Self {
        Self::TooManyRequests(t.retry_after_s)
    }
}

impl From<crate::http::form::FormError> for ApiError {
    fn from(e: crate::http::form::FormError) -> Self {
        Self::Invalid(e.to_string())
    }
}

impl From<ingest::domain::ParseError> for ApiError {
    fn from(e: ingest::domain::ParseError) -> Self {
        Self::Invalid(e.to_string())
    }
}

impl From<crate::auth::reset::ResetError> for ApiError {
    fn from(e: crate::auth::reset::ResetError) -> Self {
        use crate::auth::reset::ResetError::*;
        match e {
            BadToken => Self::Invalid(e.to_string()),
            Password(p) => Self::Invalid(p.to_string()),
            Throttled(t) => t.into(),
            Db(d) => d.into(),
        }
    }
}

impl From<crate::users::invitations::InviteError> for ApiError {
    fn from(e: crate::users::invitations::InviteError) -> Self {
        use crate::users::invitations::InviteError::*;
        match e {
            BadToken | Refused(_) | Password(_) | Invalid(_) => Self::Invalid(e.to_string()),
            Forbidden(f) => f.into(),
            Db(d) => d.into(),
        }
    }
}

impl From<crate::roles::RoleError> for ApiError {
    fn from(e: crate::roles::RoleError) -> Self {
        use crate::roles::RoleError::*;
        match e {
            Refused(m) => Self::Invalid(m),
            Forbidden(f) => f.into(),
            Db(d) => d.into(),
        }
    }
}

impl From<crate::users::manage::ManageError> for ApiError {
    fn from(e: crate::users::manage::ManageError) -> Self {
        use crate::users::manage::ManageError::*;
        match e {
            Refused(m) => Self::Invalid(m),
            Forbidden(f) => f.into(),
            Db(d) => d.into(),
        }
    }
}

impl From<crate::auth::password::PasswordError> for ApiError {
    fn from(e: crate::auth::password::PasswordError) -> Self {
        use crate::auth::password::PasswordError::*;
        match e {
            TooShort { .. } | TooLong { .. } => Self::Invalid(e.to_string()),
            Hash(m) => Self::Internal(anyhow::anyhow!(m)),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => Self::NotFound,
            DbError::Conflict(what) => Self::Conflict(what),
            DbError::Refused(what) => Self::Invalid(what),
            // A write that row-level security refused is another tenant's object.
            DbError::OutsideTenant(_) => Self::NotFound,
            other => Self::Internal(other.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            Self::Invalid(d)
            | Self::Conflict(d)
            | Self::Unavailable(d)
            | Self::Refused(d)
            | Self::TooLarge(d) => Some(d.clone()),
            Self::TooManyRequests(_) => Some(self.to_string()),
            Self::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "request failed");
                None
            }
            _ => None,
        };
        let body = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("error"),
            status: status.as_u16(),
            detail,
        };
        let mut response = (status, Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        if let Self::TooManyRequests(seconds) = self
            && let Ok(v) = header::HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_outcomes_map_to_client_errors_and_hide_internals() {
        assert_eq!(
            ApiError::from(DbError::NotFound).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            ApiError::from(DbError::Conflict("x".into())).status(),
            StatusCode::CONFLICT
        );
        assert_eq!(
            ApiError::from(DbError::Refused("fk".into())).status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            ApiError::from(DbError::OutsideTenant("rls".into())).status(),
            StatusCode::NOT_FOUND
        );
        let internal = ApiError::from(DbError::MigrationsPending(vec![1]));
        assert_eq!(internal.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[tokio::test]
    async fn responses_are_problem_json_without_internal_detail() {
        let r = ApiError::Internal(anyhow::anyhow!("password=hunter2 leaked?")).into_response();
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = axum::body::to_bytes(r.into_body(), 4096).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("\"status\":500"), "{text}");
    }
}
