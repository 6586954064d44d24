//! Password hashing: argon2id with OWASP's parameters for new hashes (19 MiB, 2 passes,
//! 1 lane: OWASP Password Storage Cheat Sheet), and bcrypt (`$2a$`/`$2b$`/`$2y$`) accepted for
//! users carried over from the original, who are rehashed with argon2id at their next sign-in.
//!
//! Hashing is CPU-bound (tens of milliseconds), so the async functions run it on the blocking
//! pool, never on the executor that serves requests. At most one hash per core runs at a time:
//! each holds 19 MiB, and a burst of sign-ups or sign-ins must not push the process past its
//! memory limit (more at once would not finish sooner anyway).
//!
//! A failed verification is answered only once it has taken as long as the slowest kind of
//! stored hash takes to verify (idly: the wait costs no CPU). A carried-over bcrypt hash of
//! cost 12 verifies several times slower than argon2id, so otherwise the time a wrong
//! password takes would tell which accounts exist and which are old.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{ApiError, ErrorCode};
use crate::secret::Secret;

/// argon2id memory cost in KiB.
pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
/// argon2id passes.
pub const ARGON2_ITERATIONS: u32 = 2;
/// argon2id lanes.
pub const ARGON2_LANES: u32 = 1;

/// What a stored hash says about a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    Mismatch,
    /// The password is right; `needs_rehash` when the hash is bcrypt or has old parameters.
    Match {
        needs_rehash: bool,
    },
}

impl Verification {
    pub fn is_match(self) -> bool {
        matches!(self, Self::Match { .. })
    }
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES, None)
        .expect("the OWASP parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password with argon2id (blocking).
pub fn hash(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(anyhow::anyhow!("argon2 hashing failed: {e}")))
}

/// Checks a password against an argon2 or bcrypt hash (blocking). A malformed hash never matches.
pub fn verify(password: &str, stored: &str) -> Verification {
    if is_bcrypt(stored) {
        return match bcrypt::verify(password, stored) {
            Ok(true) => Verification::Match { needs_rehash: true },
            _ => Verification::Mismatch,
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verification::Mismatch;
    };
    if argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Verification::Mismatch;
    }
    Verification::Match {
        needs_rehash: !has_current_parameters(&parsed),
    }
}

fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|prefix| stored.starts_with(prefix))
}

fn has_current_parameters(hash: &PasswordHash<'_>) -> bool {
    let param = |name: &str| hash.params.get_decimal(name);
    hash.algorithm.as_str() == "argon2id"
        && param("m") == Some(ARGON2_MEMORY_KIB)
        && param("t") == Some(ARGON2_ITERATIONS)
        && param("p") == Some(ARGON2_LANES)
}

/// How long a request waits for a hashing slot before it is turned away with 503.
const SLOT_WAIT: Duration = Duration::from_secs(5);

/// [`hash`] on the blocking pool, within the process's hashing slots.
pub async fn hash_async(password: Secret) -> Result<String, ApiError> {
    limited(slots(), SLOT_WAIT, move || hash(password.expose())).await?
}

/// [`verify`] on the blocking pool, within the process's hashing slots. With `None` (no such
/// user) it verifies against a fixed dummy hash. A mismatch is answered no sooner than the
/// slowest kind of hash verifies, so a missing account, a wrong password and the kind of an
/// account's hash all take the same time.
pub async fn verify_async(
    password: Secret,
    stored: Option<String>,
) -> Result<Verification, ApiError> {
    let (verdict, took) = limited(slots(), SLOT_WAIT, move || {
        let hash = stored.as_deref().unwrap_or_else(|| dummy_hash());
        let (verdict, took) = timed_verify(password.expose(), hash);
        timings().record(kind_of(hash), took);
        match stored {
            Some(_) => (verdict, took),
            None => (Verification::Mismatch, took),
        }
    })
    .await?;
    if !verdict.is_match() {
        tokio::time::sleep(timings().slowest().saturating_sub(took)).await;
    }
    Ok(verdict)
}

/// The bcrypt cost of the original's hashes (`bcrypt.gensalt()`'s default).
const LEGACY_BCRYPT_COST: u32 = 12;

/// Times the kinds of hash a store of users carried over from the original holds, before any
/// sign-in meets them: otherwise each process's first wrong password for a legacy account
/// would still stand out. Once per process, taking the faster of two runs so that a busy
/// start does not set a high floor; later calls wait for the first.
pub async fn calibrate() {
    static CALIBRATED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    CALIBRATED
        .get_or_init(|| async {
            let timed = limited(slots(), SLOT_WAIT, || {
                let legacy =
                    bcrypt::hash_with_result("coglex-timing-equaliser", LEGACY_BCRYPT_COST)
                        .map(|hash| hash.format_for_version(bcrypt::Version::TwoB));
                for hash in legacy.iter().map(String::as_str).chain([dummy_hash()]) {
                    let fastest = (0..2)
                        .map(|_| timed_verify("coglex-timing-equaliser", hash).1)
                        .min()
                        .unwrap_or_default();
                    timings().record(kind_of(hash), fastest);
                }
            });
            if let Err(err) = timed.await {
                tracing::warn!(error = %err, "could not time the kinds of password hash");
            }
        })
        .await;
}

/// [`verify`], and how long it took.
fn timed_verify(password: &str, stored: &str) -> (Verification, Duration) {
    let started = Instant::now();
    let verdict = verify(password, stored);
    (verdict, started.elapsed())
}

/// How long each kind of stored hash (algorithm and cost) takes to verify, lately.
#[derive(Default)]
struct Timings {
    by_kind: Mutex<HashMap<String, Duration>>,
}

/// Kinds of hash timed at most: a store holds a handful; the bound keeps memory fixed anyway.
const MAX_KINDS: usize = 32;

impl Timings {
    fn record(&self, kind: &str, took: Duration) {
        let mut by_kind = self.by_kind.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(average) = by_kind.get_mut(kind) {
            // A moving average: one verification slowed by a busy moment sets no floor for long.
            *average = (*average * 3 + took) / 4;
        } else if by_kind.len() < MAX_KINDS {
            by_kind.insert(kind.to_owned(), took);
        }
    }

    fn slowest(&self) -> Duration {
        let by_kind = self.by_kind.lock().unwrap_or_else(|e| e.into_inner());
        by_kind.values().max().copied().unwrap_or_default()
    }
}

fn timings() -> &'static Timings {
    static TIMINGS: OnceLock<Timings> = OnceLock::new();
    TIMINGS.get_or_init(Timings::default)
}

/// What makes a stored hash slow or fast to verify: its algorithm and parameters, without its
/// salt and digest (`$2b$12`, `$argon2id$v=19$m=19456,t=2,p=1`).
fn kind_of(stored: &str) -> &str {
    // The `$` after the cost: bcrypt's third, argon2's fourth.
    let last = if is_bcrypt(stored) { 2 } else { 3 };
    let end = stored
        .match_indices('$')
        .nth(last)
        .map_or(stored.len(), |(at, _)| at);
    &stored[..end]
}

/// One slot per core the process may use (cgroup quotas included).
fn slots() -> &'static Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Arc::new(Semaphore::new(cores))
    })
}

/// Runs `work` on the blocking pool once a slot is free, waiting at most `wait` for one. The
/// slot goes with the work, so a caller that gives up (a client that hung up) does not free it
/// while the hash still runs.
fn limited<T: Send + 'static>(
    slots: &Arc<Semaphore>,
    wait: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> impl Future<Output = Result<T, ApiError>> {
    let slot = tokio::time::timeout(wait, Arc::clone(slots).acquire_owned());
    async move {
        let slot = match slot.await {
            Ok(Ok(slot)) => slot,
            Ok(Err(closed)) => return Err(ApiError::internal(closed)),
            Err(_) => {
                return Err(ApiError::new(
                    ErrorCode::ServiceUnavailable,
                    "too many sign-ins at once; try again shortly",
                )
                .retry_after(1))
            }
        };
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            work()
        })
        .await
        .map_err(ApiError::internal)
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash("coglex-timing-equaliser").expect("hashing a constant works"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_hash_is_argon2id_with_owasp_parameters() {
        let stored = hash("correct horse battery staple").unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert_eq!(
            verify("correct horse battery staple", &stored),
            Verification::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            verify("correct horse battery stapl", &stored),
            Verification::Mismatch
        );
    }

    #[test]
    fn two_hashes_of_one_password_differ() {
        assert_ne!(
            hash("same password").unwrap(),
            hash("same password").unwrap()
        );
    }

    #[test]
    fn a_bcrypt_hash_from_the_original_verifies_and_asks_for_an_upgrade() {
        // The original stored `bcrypt.hashpw(password, bcrypt.gensalt())`: `$2b$12$...`.
        let legacy = bcrypt::hash_with_result("legacy-password", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        assert!(legacy.starts_with("$2b$"));
        assert_eq!(
            verify("legacy-password", &legacy),
            Verification::Match { needs_rehash: true }
        );
        assert_eq!(verify("wrong-password", &legacy), Verification::Mismatch);
    }

    #[test]
    fn an_argon2_hash_with_weaker_parameters_asks_for_an_upgrade() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        );
        let stored = weak
            .hash_password(b"pw-12345678", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert_eq!(
            verify("pw-12345678", &stored),
            Verification::Match { needs_rehash: true }
        );
    }

    #[test]
    fn garbage_hashes_never_match() {
        for stored in ["", "plaintext", "$2b$", "$argon2id$garbage", "$2b$12$short"] {
            assert_eq!(
                verify("plaintext", stored),
                Verification::Mismatch,
                "{stored}"
            );
        }
    }

    #[tokio::test]
    async fn a_request_that_finds_every_slot_taken_is_turned_away_with_503() {
        let slots = Arc::new(Semaphore::new(1));
        let taken = Arc::clone(&slots).acquire_owned().await.unwrap();
        let error = limited(&slots, Duration::from_millis(50), || 1)
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::ServiceUnavailable);
        assert_eq!(error.retry_after_secs(), Some(1));
        drop(taken);
        assert_eq!(
            limited(&slots, Duration::from_millis(50), || 2)
                .await
                .unwrap(),
            2
        );
    }

    #[tokio::test]
    async fn a_slot_stays_taken_until_the_work_ends_even_if_the_caller_gave_up() {
        let slots = Arc::new(Semaphore::new(1));
        let (release, released) = std::sync::mpsc::channel::<()>();
        let caller = tokio::spawn(limited(&slots, Duration::from_secs(1), move || {
            released.recv().unwrap();
        }));
        while slots.available_permits() == 1 {
            tokio::task::yield_now().await;
        }
        caller.abort();
        let _ = caller.await;
        assert_eq!(slots.available_permits(), 0, "the hash is still running");
        release.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), async {
            while slots.available_permits() == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the slot comes back when the work ends");
    }

    #[test]
    fn a_hashs_kind_is_its_algorithm_and_cost() {
        let bcrypt = bcrypt::hash_with_result("pw", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        assert_eq!(kind_of(&bcrypt), "$2b$04");
        let argon2 = hash("pw").unwrap();
        assert_eq!(kind_of(&argon2), "$argon2id$v=19$m=19456,t=2,p=1");
        assert_eq!(kind_of("plaintext"), "plaintext");
    }

    #[test]
    fn failures_wait_for_the_slowest_kind_which_one_slow_run_moves_only_a_little() {
        let timings = Timings::default();
        assert_eq!(timings.slowest(), Duration::ZERO);
        timings.record("$argon2id", Duration::from_millis(40));
        timings.record("$2b$12", Duration::from_millis(240));
        assert_eq!(timings.slowest(), Duration::from_millis(240));
        timings.record("$argon2id", Duration::from_millis(1240));
        assert_eq!(timings.slowest(), Duration::from_millis(340));
        for kind in 0..2 * MAX_KINDS {
            timings.record(&format!("kind {kind}"), Duration::from_secs(9));
        }
        assert_eq!(timings.by_kind.lock().unwrap().len(), MAX_KINDS);
    }

    #[tokio::test]
    async fn the_originals_bcrypt_hashes_are_timed_before_any_sign_in_meets_one() {
        calibrate().await;
        let by_kind = timings().by_kind.lock().unwrap();
        assert!(by_kind.contains_key("$2b$12"), "{:?}", by_kind.keys());
        assert!(by_kind.contains_key(kind_of(dummy_hash())));
    }

    #[tokio::test]
    async fn verifying_a_missing_user_takes_the_dummy_path_and_fails() {
        let result = verify_async(Secret::new("anything"), None).await.unwrap();
        assert_eq!(result, Verification::Mismatch);
    }
}
