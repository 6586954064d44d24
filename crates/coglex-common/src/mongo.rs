//! MongoDB access through the official driver: one client per process, short timeouts so an
//! outage answers 503 in seconds instead of hanging, and driver errors mapped to API errors
//! without their text.

use std::time::Duration;

use mongodb::bson::{doc, Bson, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Collection, Database, IndexModel};
use serde::Deserialize;

use crate::config::ConfigError;
use crate::error::{ApiError, ErrorCode};
use crate::secret::Secret;

/// Duplicate key (E11000).
const DUPLICATE_KEY: i32 = 11000;
/// The server stopped a query at its `maxTimeMS`.
const MAX_TIME_EXPIRED: i32 = 50;
/// The server refused our credentials or rights.
const UNAUTHORIZED: i32 = 13;
/// Codes a server answers while it cannot serve for now: not (or no longer) the primary,
/// shutting down, recovering, or a network failure between replica-set members
/// (the driver's retryable codes), and a write concern that timed out (64).
const TRANSIENT: [i32; 15] = [
    6, 7, 64, 89, 91, 134, 189, 262, 9001, 10058, 10107, 11600, 11602, 13435, 13436,
];

/// Where the database is and how long to wait for it.
#[derive(Debug, Clone, Deserialize)]
pub struct MongoSettings {
    /// Connection string; may hold credentials, so it is never logged (`MONGODB_URI`).
    #[serde(default = "default_uri")]
    pub mongodb_uri: Secret,
    /// Database holding every collection (`MONGODB_DATABASE`).
    #[serde(default = "default_database")]
    pub mongodb_database: String,
    /// Users (`MONGODB_AUTH_COLLECTION`).
    #[serde(default = "default_auth_collection")]
    pub mongodb_auth_collection: String,
    /// Milliseconds to open a connection (`MONGODB_CONNECT_TIMEOUT_MS`).
    #[serde(default = "default_connect_timeout_ms")]
    pub mongodb_connect_timeout_ms: u64,
    /// Milliseconds to find a usable server before answering 503
    /// (`MONGODB_SERVER_SELECTION_TIMEOUT_MS`).
    #[serde(default = "default_selection_timeout_ms")]
    pub mongodb_server_selection_timeout_ms: u64,
}

fn default_uri() -> Secret {
    Secret::new("mongodb://127.0.0.1:27017")
}

fn default_database() -> String {
    "coglex".into()
}

fn default_auth_collection() -> String {
    "_USERS".into()
}

fn default_connect_timeout_ms() -> u64 {
    2_000
}

fn default_selection_timeout_ms() -> u64 {
    3_000
}

/// Checks a collection (or GridFS bucket) name a service keeps for itself, given by `setting`.
/// It must start with `_`: storage-svc refuses every such name, so its users can never read or
/// write the service's records, whatever policy it runs with.
pub fn check_private_collection(setting: &str, name: &str) -> Result<(), ConfigError> {
    if name.len() < 2 || !name.starts_with('_') || name.contains(['$', '\0']) {
        return Err(ConfigError(format!(
            "{setting} must be a collection name starting with `_` (out of storage's reach), \
             without `$` or NUL"
        )));
    }
    Ok(())
}

/// Builds the process's client. The driver connects lazily, so this does not wait for the
/// database: a service starts (and answers `/health`) while the database is still coming up.
pub async fn connect(settings: &MongoSettings, app_name: &str) -> anyhow::Result<Database> {
    let mut options = ClientOptions::parse(settings.mongodb_uri.expose())
        .await
        .map_err(|_| anyhow::anyhow!("MONGODB_URI is not a valid MongoDB connection string"))?;
    options.app_name = Some(app_name.to_owned());
    options.connect_timeout = Some(Duration::from_millis(settings.mongodb_connect_timeout_ms));
    options.server_selection_timeout = Some(Duration::from_millis(
        settings.mongodb_server_selection_timeout_ms,
    ));
    let client = Client::with_options(options)?;
    Ok(client.database(&settings.mongodb_database))
}

/// `call`, or 503 when it is not done within `limit`. The driver has no socket timeout, so a
/// connection that goes silent without closing would otherwise hold the request forever.
pub async fn deadline<F: std::future::IntoFuture>(
    limit: Duration,
    call: F,
) -> Result<F::Output, ApiError> {
    tokio::time::timeout(limit, call).await.map_err(|_| {
        ApiError::unavailable(anyhow::anyhow!(
            "a database call took longer than {limit:?}"
        ))
    })
}

/// Waits up to `limit` for the outcome a write running in a task of its own sends on
/// `answer`. A write must not be dropped midway, where nobody knows what it did; the task
/// learns instead whether its outcome was taken (its send fails once this gave up) and undoes
/// the write if not. Past `limit`, an outcome sent before this gave up still counts.
pub async fn outcome_within<T>(
    limit: Duration,
    mut answer: tokio::sync::oneshot::Receiver<Result<T, ApiError>>,
) -> Result<T, ApiError> {
    match deadline(limit, &mut answer).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => Err(ApiError::internal(anyhow::anyhow!(
            "a write task ended without an outcome"
        ))),
        Err(timed_out) => {
            answer.close();
            answer.try_recv().unwrap_or(Err(timed_out))
        }
    }
}

/// [`deadline`] for a call whose own error converts to the API's (a driver error does).
pub async fn bounded<T, E: Into<ApiError>>(
    limit: Duration,
    call: impl std::future::IntoFuture<Output = Result<T, E>>,
) -> Result<T, ApiError> {
    deadline(limit, call).await?.map_err(Into::into)
}

/// `stream`, ended by one `timed_out()` error when its next item takes longer than `limit`:
/// a cursor's later batches (`getMore`) can hang on a silent connection like any call.
pub fn each_within<S, T, E>(
    stream: S,
    limit: Duration,
    timed_out: fn() -> E,
) -> impl futures_util::Stream<Item = Result<T, E>>
where
    S: futures_util::Stream<Item = Result<T, E>> + Unpin,
{
    use futures_util::StreamExt;
    futures_util::stream::unfold(Some(stream), move |state| async move {
        let mut stream = state?;
        match tokio::time::timeout(limit, stream.next()).await {
            Ok(Some(item)) => Some((item, Some(stream))),
            Ok(None) => None,
            Err(_) => Some((Err(timed_out()), None)),
        }
    })
}

/// [`each_within`] for a driver cursor: the timeout is a driver I/O error like any other.
pub fn cursor_within<S, T>(
    cursor: S,
    limit: Duration,
) -> impl futures_util::Stream<Item = mongodb::error::Result<T>>
where
    S: futures_util::Stream<Item = mongodb::error::Result<T>> + Unpin,
{
    each_within(cursor, limit, || {
        mongodb::error::Error::from(std::io::Error::from(std::io::ErrorKind::TimedOut))
    })
}

/// The field every short-lived record keeps its end of life in.
pub const EXPIRES_AT: &str = "expires_at";

/// A TTL index on `expires_at`: the database deletes each record once that moment has passed
/// (within its TTL monitor's period, so reads still check the expiry themselves).
pub async fn expire_records(collection: &Collection<Document>) -> mongodb::error::Result<()> {
    let ttl = IndexModel::builder()
        .keys(doc! { EXPIRES_AT: 1 })
        .options(
            IndexOptions::builder()
                .expire_after(Duration::ZERO)
                .name("expiry".to_owned())
                .build(),
        )
        .build();
    collection.create_index(ttl).await.map(|_| ())
}

/// A stored count or sum as an unsigned number, whichever numeric type the server chose for
/// it (`$sum` and `$inc` give 32-bit, 64-bit or double); `None` for anything negative or not
/// a number.
pub fn as_u64(value: &Bson) -> Option<u64> {
    match value {
        Bson::Int64(n) => u64::try_from(*n).ok(),
        Bson::Int32(n) => u64::try_from(*n).ok(),
        Bson::Double(n) if *n >= 0.0 => Some(*n as u64),
        _ => None,
    }
}

/// Round trip to the database, for readiness checks.
pub async fn ping(db: &Database) -> Result<(), ApiError> {
    db.run_command(doc! { "ping": 1 }).await?;
    Ok(())
}

/// The server's error code, where the driver reports one.
pub fn server_code(err: &mongodb::error::Error) -> Option<i32> {
    match err.kind.as_ref() {
        ErrorKind::Command(e) => Some(e.code),
        ErrorKind::Write(WriteFailure::WriteError(e)) => Some(e.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(e)) => Some(e.code),
        ErrorKind::InsertMany(e) => e
            .write_errors
            .as_ref()
            .and_then(|errors| errors.first())
            .map(|e| e.code),
        _ => None,
    }
}

/// Whether the server refused a write as a duplicate of a unique key (E11000): for an
/// upsert, also a filter that matched nothing while its `_id` exists.
pub fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    server_code(err) == Some(DUPLICATE_KEY)
}

/// A write the server took but could not confirm to the write concern, without a write error
/// of the request's own (which then says more, e.g. a duplicate key).
fn is_write_concern_failure(err: &mongodb::error::Error) -> bool {
    match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteConcernError(_)) => true,
        ErrorKind::InsertMany(e) => {
            e.write_concern_error.is_some()
                && e.write_errors
                    .as_ref()
                    .is_none_or(|errors| errors.is_empty())
        }
        _ => false,
    }
}

fn is_transient(code: i32, err: &mongodb::error::Error) -> bool {
    TRANSIENT.contains(&code)
        || [
            mongodb::error::RETRYABLE_WRITE_ERROR,
            mongodb::error::RETRYABLE_ERROR,
            mongodb::error::SYSTEM_OVERLOADED_ERROR,
        ]
        .iter()
        .any(|label| err.contains_label(label))
}

impl From<mongodb::error::Error> for ApiError {
    fn from(err: mongodb::error::Error) -> Self {
        let unreachable = matches!(
            err.kind.as_ref(),
            ErrorKind::ServerSelection { .. }
                | ErrorKind::Io(_)
                | ErrorKind::ConnectionPoolCleared { .. }
                | ErrorKind::DnsResolve { .. }
                | ErrorKind::Authentication { .. }
        );
        // The write may have been applied but not replicated in time: never the request's
        // fault, and a retry later may succeed.
        if unreachable || is_write_concern_failure(&err) {
            return ApiError::unavailable(err);
        }
        match server_code(&err) {
            Some(DUPLICATE_KEY) => {
                ApiError::conflict("a document with the same unique key already exists")
                    .with_source(err)
            }
            Some(MAX_TIME_EXPIRED | UNAUTHORIZED) => ApiError::unavailable(err),
            // An election or a rolling restart: retrying shortly will work.
            Some(code) if is_transient(code, &err) => ApiError::unavailable(err),
            // Anything else the server refused was shaped by the request (a filter or a
            // pipeline); say so without echoing the server's text.
            Some(_) => ApiError::new(ErrorCode::BadRequest, "the database refused this request")
                .with_source(err),
            None => ApiError::internal(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use mongodb::error::{CommandError, Error};

    use super::*;

    #[tokio::test]
    async fn a_stream_whose_next_item_is_late_ends_with_one_timeout() {
        use futures_util::StreamExt;
        let items = futures_util::stream::iter([Ok(1), Ok(2)])
            .chain(futures_util::stream::pending())
            .boxed();
        let bounded: Vec<Result<i32, &str>> =
            each_within(items, Duration::from_millis(50), || "late")
                .collect()
                .await;
        assert_eq!(bounded, [Ok(1), Ok(2), Err("late")]);
    }

    fn refused(code: i32) -> Error {
        let command: CommandError =
            mongodb::bson::from_document(doc! { "code": code, "errmsg": "server text" }).unwrap();
        Error::from(ErrorKind::Command(command))
    }

    #[tokio::test]
    async fn a_call_past_its_deadline_answers_503() {
        let silent = std::future::pending::<()>();
        let error = deadline(Duration::from_millis(20), silent)
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::ServiceUnavailable);
        assert_eq!(
            deadline(Duration::from_secs(1), async { 7 }).await.unwrap(),
            7
        );
    }

    #[test]
    fn an_election_or_a_restart_answers_503_not_400() {
        // NotWritablePrimary, PrimarySteppedDown, ShutdownInProgress,
        // InterruptedDueToReplStateChange, NotPrimaryNoSecondaryOk, WriteConcernFailed.
        for code in [10107, 189, 91, 11602, 13435, 64] {
            let error = ApiError::from(refused(code));
            assert_eq!(error.code(), ErrorCode::ServiceUnavailable, "code {code}");
            assert!(error.retry_after_secs().is_some(), "code {code}");
        }
    }

    #[test]
    fn a_private_collection_starts_with_an_underscore() {
        for ok in ["_USERS", "_ARCHIVE", "_x"] {
            assert!(check_private_collection("S", ok).is_ok(), "{ok}");
        }
        for bad in ["", "_", "files", "users", "_a$b", "_a\0"] {
            let error = check_private_collection("SETTING", bad).unwrap_err();
            assert!(error.0.contains("SETTING"), "{bad:?}");
        }
    }

    #[test]
    fn a_write_concern_failure_answers_503_for_single_and_bulk_writes() {
        let wce =
            doc! { "code": 100, "codeName": "UnsatisfiableWriteConcern", "errmsg": "server text" };
        let single = Error::from(ErrorKind::Write(WriteFailure::WriteConcernError(
            mongodb::bson::from_document(wce.clone()).unwrap(),
        )));
        let bulk = Error::from(ErrorKind::InsertMany(
            mongodb::bson::from_document(doc! { "writeConcernError": wce }).unwrap(),
        ));
        for error in [single, bulk] {
            let error = ApiError::from(error);
            assert_eq!(error.code(), ErrorCode::ServiceUnavailable);
            assert!(!error.message().contains("server text"));
        }
        let duplicate = Error::from(ErrorKind::InsertMany(
            mongodb::bson::from_document(doc! {
                "writeErrors": [{ "index": 0, "code": 11000, "errmsg": "dup" }],
                "writeConcernError": { "code": 64, "errmsg": "late" },
            })
            .unwrap(),
        ));
        assert_eq!(ApiError::from(duplicate).code(), ErrorCode::Conflict);
    }

    #[test]
    fn a_request_the_server_refused_answers_400_without_the_servers_text() {
        // BadValue, a malformed pipeline stage.
        for code in [2, 40323] {
            let error = ApiError::from(refused(code));
            assert_eq!(error.code(), ErrorCode::BadRequest, "code {code}");
            assert!(!error.message().contains("server text"));
        }
        assert_eq!(ApiError::from(refused(11000)).code(), ErrorCode::Conflict);
    }
}
