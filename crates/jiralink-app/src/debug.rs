//! The connection debugger: for a window of 15 to 60 minutes, every request made for a
//! connection and its response are recorded, one line each, with every secret masked.
//!
//! Masking is done by the Atlassian client before an exchange reaches any observer
//! (credentials headers keep only their scheme, secret-named fields and the request's own
//! credentials in any encoding become `********`), so nothing here ever sees a secret.
//!
//! Every client the app builds for a saved connection carries a [`DebugObserver`], whether or
//! not the window is open when the use starts: a long use sees a window opened after it began.
//! The observer knows the connection's `debug_until` as read at most [`DEBUG_REFRESH`] ago (by
//! the app's clock); each exchange goes down a channel to one writer task per app, which
//! re-reads the window when its copy is older than that and appends the lines at once, so
//! they can be read while the use still runs. Lines are kept [`DEBUG_RETENTION`]; older ones
//! are purged whenever the window is re-read or the log is read.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use jiralink_atlassian::{Exchange, ExchangeOutcome, Observer};
use jiralink_domain::{Clock, Connection, ConnectionId};
use jiralink_store::{DebugDirection, DebugLine, Store};
use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use crate::views::ConnectionView;
use crate::{App, AppError, AppResult};

/// The windows the debugger can be opened for, in minutes.
pub const DEBUG_WINDOWS_MINUTES: [u32; 4] = [15, 30, 45, 60];

/// How long debug lines are kept.
pub const DEBUG_RETENTION: time::Duration = time::Duration::hours(24);

/// How old a client's copy of the debug window may be before it is read again: opening or
/// closing the debugger reaches a running use within this time.
pub const DEBUG_REFRESH: time::Duration = time::Duration::seconds(5);

/// A connection's debug window as last read.
#[derive(Debug, Clone, Copy)]
struct Window {
    until: Option<OffsetDateTime>,
    read_at: OffsetDateTime,
}

impl Window {
    fn is_fresh(&self, now: OffsetDateTime) -> bool {
        now - self.read_at < DEBUG_REFRESH
    }
}

enum Message {
    Exchange {
        connection: ConnectionId,
        window: Arc<Mutex<Window>>,
        exchange: Box<Exchange>,
    },
    Flush(oneshot::Sender<()>),
}

/// The app's one writer of debug lines, started on first use.
#[derive(Debug, Default)]
pub(crate) struct DebugWriter {
    sender: OnceLock<mpsc::UnboundedSender<Message>>,
}

impl DebugWriter {
    fn sender(
        &self,
        store: &Arc<dyn Store>,
        clock: &Arc<dyn Clock>,
    ) -> mpsc::UnboundedSender<Message> {
        self.sender
            .get_or_init(|| {
                let (sender, receiver) = mpsc::unbounded_channel();
                tokio::spawn(write_lines(receiver, Arc::clone(store), Arc::clone(clock)));
                sender
            })
            .clone()
    }
}

/// Appends the lines of each exchange made inside its connection's window, as it arrives.
async fn write_lines(
    mut receiver: mpsc::UnboundedReceiver<Message>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) {
    while let Some(message) = receiver.recv().await {
        let (connection, window, exchange) = match message {
            Message::Flush(done) => {
                // The caller may have stopped waiting; nothing is lost either way.
                done.send(()).ok();
                continue;
            }
            Message::Exchange {
                connection,
                window,
                exchange,
            } => (connection, window, exchange),
        };
        if let Err(e) = write_exchange(&*store, &*clock, connection, &window, &exchange).await {
            tracing::warn!(%connection, error = %e, "a debug line could not be written");
        }
    }
}

async fn write_exchange(
    store: &dyn Store,
    clock: &dyn Clock,
    connection: ConnectionId,
    window: &Mutex<Window>,
    exchange: &Exchange,
) -> AppResult<()> {
    let now = clock.now();
    let known = *window.lock().unwrap_or_else(PoisonError::into_inner);
    let until = if known.is_fresh(now) {
        known.until
    } else {
        let until = match store.get_connection(connection).await {
            Ok(current) => current.debug_until,
            // Deleted while in use: nothing more to record.
            Err(jiralink_store::StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        *window.lock().unwrap_or_else(PoisonError::into_inner) = Window {
            until,
            read_at: now,
        };
        store.purge_debug_lines(now - DEBUG_RETENTION).await?;
        until
    };
    // A long use may outlast the window: what came after it is not recorded.
    if until.is_some_and(|u| exchange.at < u) {
        store
            .append_debug_lines(&lines_of(connection, exchange))
            .await?;
    }
    Ok(())
}

/// The observer on every client of a saved connection: hands each exchange made while the
/// connection's debug window may be open to the app's writer.
#[derive(Debug)]
pub(crate) struct DebugObserver {
    connection: ConnectionId,
    clock: Arc<dyn Clock>,
    window: Arc<Mutex<Window>>,
    sender: mpsc::UnboundedSender<Message>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exchange { connection, .. } => f
                .debug_struct("Exchange")
                .field("connection", connection)
                .finish_non_exhaustive(),
            Self::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl Observer for DebugObserver {
    fn on_exchange(&self, exchange: Exchange) {
        let message = Message::Exchange {
            connection: self.connection,
            window: Arc::clone(&self.window),
            exchange: Box::new(exchange),
        };
        if self.sender.send(message).is_err() {
            tracing::warn!(connection = %self.connection, "the debug writer has stopped");
        }
    }

    /// Exchanges are built (and masked) only while the window is open, or when the copy of
    /// it is stale and the writer must look again.
    fn records(&self) -> bool {
        let now = self.clock.now();
        let window = *self.window.lock().unwrap_or_else(PoisonError::into_inner);
        !window.is_fresh(now) || window.until.is_some_and(|u| u > now)
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
    /// The debug observer for a use of `connection` starting now.
    pub(crate) fn debug_observer(&self, connection: &Connection) -> Arc<dyn Observer> {
        let clock = self.clock();
        let sender = self.debug_writer().sender(&self.store_arc(), &clock);
        Arc::new(DebugObserver {
            connection: connection.id,
            window: Arc::new(Mutex::new(Window {
                until: connection.debug_until,
                read_at: clock.now(),
            })),
            clock,
            sender,
        })
    }

    /// Waits until every exchange observed so far has been written to the debug log.
    pub async fn flush_debug_lines(&self) {
        let Some(sender) = self.debug_writer().sender.get() else {
            return;
        };
        let (done, wait) = oneshot::channel();
        if sender.send(Message::Flush(done)).is_ok() {
            // An error means the writer is gone, and with it anything left to wait for.
            wait.await.ok();
        }
    }

    /// Opens the debugger for `minutes` (15, 30, 45 or 60) from now; an open window is
    /// replaced.
    pub async fn start_debug(&self, reference: &str, minutes: u32) -> AppResult<ConnectionView> {
        if !DEBUG_WINDOWS_MINUTES.contains(&minutes) {
            return Err(AppError::InvalidInput(
                "the debugger records for 15, 30, 45 or 60 minutes; choose one of those".to_owned(),
            ));
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
