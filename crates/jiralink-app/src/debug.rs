//! The connection debugger: for a window of 15 to 60 minutes, every request made for a
//! connection and its response are recorded, one line each, with every secret masked.
//!
//! Masking is done by the Atlassian client before an exchange reaches any observer
//! (credentials headers keep only their scheme, secret-named fields and the request's own
//! credentials in any encoding become `********`), so nothing here ever sees a secret.
//! Lines are kept [`DEBUG_RETENTION`]; older ones are purged whenever the log is written or
//! read.

use jiralink_atlassian::{Exchange, ExchangeOutcome, RecordingObserver};
use jiralink_domain::{Connection, ConnectionId};
use jiralink_store::{DebugDirection, DebugLine};
use serde::Serialize;
use time::OffsetDateTime;

use crate::views::ConnectionView;
use crate::{App, AppError, AppResult};

/// The windows the debugger can be opened for, in minutes.
pub const DEBUG_WINDOWS_MINUTES: [u32; 4] = [15, 30, 45, 60];

/// How long debug lines are kept.
pub const DEBUG_RETENTION: time::Duration = time::Duration::hours(24);

/// Collects the exchanges of one use of a connection in its debug window, to be written
/// when the use ends.
#[derive(Debug)]
pub(crate) struct DebugRecorder {
    connection: ConnectionId,
    until: OffsetDateTime,
    recorder: RecordingObserver,
}

impl DebugRecorder {
    pub(crate) fn observer(&self) -> RecordingObserver {
        self.recorder.clone()
    }
}

/// A connection's debug log, for `debug show`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DebugLog {
    pub connection: String,
    pub id: String,
    /// Whether requests are being recorded now.
    pub recording: bool,
    /// When the current (or last) window ends.
    #[serde(with = "time::serde::rfc3339::option")]
    pub debug_until: Option<OffsetDateTime>,
    /// Oldest first; a request and its response share a `requestId`.
    pub lines: Vec<DebugLine>,
}

fn lines_of(connection: ConnectionId, exchange: &Exchange) -> [DebugLine; 2] {
    let request_id = uuid::Uuid::new_v4().to_string();
    let duration_ms = u64::try_from(exchange.duration.as_millis()).unwrap_or(u64::MAX);
    let answered_at = exchange
        .at
        .checked_add(time::Duration::try_from(exchange.duration).unwrap_or(time::Duration::ZERO))
        .unwrap_or(exchange.at);
    let (status, headers, body) = match &exchange.outcome {
        ExchangeOutcome::Response {
            status,
            headers,
            body,
        } => (Some(*status), headers.clone(), Some(body.clone())),
        ExchangeOutcome::Failed { error } => {
            (None, Vec::new(), Some(format!("no response: {error}")))
        }
    };
    [
        DebugLine {
            connection,
            at: exchange.at,
            request_id: request_id.clone(),
            direction: DebugDirection::Request,
            method: exchange.method.clone(),
            url: exchange.url.clone(),
            status: None,
            duration_ms: None,
            headers: exchange.request_headers.clone(),
            body: exchange.request_body.clone(),
        },
        DebugLine {
            connection,
            at: answered_at,
            request_id,
            direction: DebugDirection::Response,
            method: exchange.method.clone(),
            url: exchange.url.clone(),
            status,
            duration_ms: Some(duration_ms),
            headers,
            body,
        },
    ]
}

impl App {
    /// A recorder when the connection's debug window is open now.
    pub(crate) fn debug_recorder(&self, connection: &Connection) -> Option<DebugRecorder> {
        let until = connection.debug_until.filter(|u| *u > self.now())?;
        Some(DebugRecorder {
            connection: connection.id,
            until,
            recorder: RecordingObserver::new(),
        })
    }

    /// Writes what a recorder saw during the window, and purges lines past retention.
    pub(crate) async fn write_debug_lines(&self, recorder: &DebugRecorder) -> AppResult<()> {
        let lines: Vec<DebugLine> = recorder
            .recorder
            .exchanges()
            .iter()
            // A long use may outlast the window: what came after it is not recorded.
            .filter(|e| e.at < recorder.until)
            .flat_map(|e| lines_of(recorder.connection, e))
            .collect();
        self.store()
            .purge_debug_lines(self.now() - DEBUG_RETENTION)
            .await?;
        if !lines.is_empty() {
            self.store().append_debug_lines(&lines).await?;
        }
        Ok(())
    }

    /// Opens the debugger for `minutes` (15, 30, 45 or 60) from now; an open window is
    /// replaced.
    pub async fn start_debug(&self, reference: &str, minutes: u32) -> AppResult<ConnectionView> {
        if !DEBUG_WINDOWS_MINUTES.contains(&minutes) {
            return Err(AppError::InvalidInput(format!(
                "the debugger records for 15, 30, 45 or 60 minutes, not {minutes}; choose one \
                 of those"
            )));
        }
        let connection = self.find_connection(reference).await?;
        let until = self.now() + time::Duration::minutes(i64::from(minutes));
        self.store()
            .set_debug_until(connection.id, Some(until))
            .await?;
        tracing::info!(connection = %connection.id, minutes, "connection debugger started");
        self.get_connection(&connection.id.to_string()).await
    }

    /// Closes the debugger's window now; the lines recorded stay until cleared or expired.
    pub async fn stop_debug(&self, reference: &str) -> AppResult<ConnectionView> {
        let connection = self.find_connection(reference).await?;
        if connection.debug_until.is_some_and(|u| u > self.now()) {
            self.store()
                .set_debug_until(connection.id, Some(self.now()))
                .await?;
        }
        self.get_connection(&connection.id.to_string()).await
    }

    /// The connection's debug lines of the last 24 hours.
    pub async fn debug_log(&self, reference: &str) -> AppResult<DebugLog> {
        let connection = self.find_connection(reference).await?;
        let now = self.now();
        let cutoff = now - DEBUG_RETENTION;
        self.store().purge_debug_lines(cutoff).await?;
        let lines = self.store().list_debug_lines(connection.id, cutoff).await?;
        Ok(DebugLog {
            connection: connection.settings.name.as_str().to_owned(),
            id: connection.id.to_string(),
            recording: connection.debug_until.is_some_and(|u| u > now),
            debug_until: connection.debug_until,
            lines,
        })
    }

    /// Deletes the connection's debug lines; returns how many there were.
    pub async fn clear_debug_log(&self, reference: &str) -> AppResult<u64> {
        let connection = self.find_connection(reference).await?;
        Ok(self.store().clear_debug_lines(connection.id).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use pretty_assertions::assert_eq;
    use time::macros::datetime;

    use super::*;

    #[test]
    fn an_exchange_is_a_request_line_and_a_response_line() {
        let id = ConnectionId::new();
        let exchange = Exchange {
            at: datetime!(2026-01-01 10:00 UTC),
            operation: "getCurrentUser",
            attempt: 1,
            method: "GET".to_owned(),
            url: "https://demo.atlassian.net/rest/api/3/myself".to_owned(),
            request_headers: vec![("authorization".to_owned(), "Basic ********".to_owned())],
            request_body: None,
            outcome: ExchangeOutcome::Response {
                status: 200,
                headers: vec![("content-type".to_owned(), "application/json".to_owned())],
                body: "{}".to_owned(),
            },
            duration: Duration::from_millis(1250),
        };
        let [request, response] = lines_of(id, &exchange);
        assert_eq!(request.direction, DebugDirection::Request);
        assert_eq!(request.status, None);
        assert_eq!(request.headers[0].1, "Basic ********");
        assert_eq!(response.request_id, request.request_id);
        assert_eq!(response.status, Some(200));
        assert_eq!(response.duration_ms, Some(1250));
        assert_eq!(response.at, datetime!(2026-01-01 10:00:01.25 UTC));

        let failed = Exchange {
            outcome: ExchangeOutcome::Failed {
                error: "connection refused".to_owned(),
            },
            ..exchange
        };
        let [_, response] = lines_of(id, &failed);
        assert_eq!(response.status, None);
        assert_eq!(
            response.body.as_deref(),
            Some("no response: connection refused")
        );
    }
}
