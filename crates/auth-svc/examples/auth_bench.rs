//! What authentication costs, measured in one run (see `bench/README.md`):
//!
//! 1. Sign-in hashing throughput per core: verifications per second on one thread of argon2id
//!    with our parameters (OWASP: 19 MiB, 2 passes, 1 lane), next to bcrypt cost 10 and 12.
//! 2. Per-request overhead of an authenticated route: the token check (HS256 JWT) and the
//!    session check (a read of the session document, or a cache hit), then end to end over
//!    HTTP: auth-svc's `/health` (API key only) against a profile read (API key, token, session,
//!    one user read).
//!
//! Run by `bench/auth.sh` in release mode; uses a SecantusDB started by test-support (or
//! `MONGODB_URI`).

use std::time::{Duration, Instant};

use coglex_common::password;
use coglex_common::session::{SessionClaims, SessionSettings, SessionStore};
use coglex_common::token::Purpose;

const PASSWORD: &str = "correct horse battery staple";

/// Runs `op` for at least `budget` (and `min_runs` times); returns the mean time per run.
fn time_per_op(budget: Duration, min_runs: u32, mut op: impl FnMut()) -> Duration {
    let started = Instant::now();
    let mut runs = 0u32;
    while runs < min_runs || started.elapsed() < budget {
        op();
        runs += 1;
    }
    started.elapsed() / runs
}

async fn time_per_op_async<F, Fut>(runs: u32, mut op: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    op().await; // warm-up: connections, caches
    let started = Instant::now();
    for _ in 0..runs {
        op().await;
    }
    started.elapsed() / runs
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn hashing() {
    println!("## Sign-in hashing, one thread (= per core)\n");
    println!("| Hash | Parameters | Verify time | Sign-ins/s per core | Throughput vs argon2id |");
    println!("| --- | --- | --- | --- | --- |");
    let argon2 = password::hash(PASSWORD).expect("argon2 hashes");
    let bcrypt10 = bcrypt::hash(PASSWORD, 10).expect("bcrypt hashes");
    let bcrypt12 = bcrypt::hash(PASSWORD, 12).expect("bcrypt hashes");
    let budget = Duration::from_secs(3);
    let argon2_time = time_per_op(budget, 5, || {
        assert!(password::verify(PASSWORD, &argon2).is_match());
    });
    let rows = [
        ("argon2id (ours)", "m=19456 KiB, t=2, p=1", argon2_time),
        (
            "bcrypt",
            "cost 10 (Parse, Supabase/GoTrue)",
            time_per_op(budget, 5, || {
                assert!(bcrypt::verify(PASSWORD, &bcrypt10).unwrap())
            }),
        ),
        (
            "bcrypt",
            "cost 12 (PocketBase's default, the original's gensalt())",
            time_per_op(budget, 5, || {
                assert!(bcrypt::verify(PASSWORD, &bcrypt12).unwrap())
            }),
        ),
    ];
    for (name, params, time) in rows {
        println!(
            "| {name} | {params} | {:.1} ms | {:.1} | {:.2}x |",
            time.as_secs_f64() * 1e3,
            1.0 / time.as_secs_f64(),
            argon2_time.as_secs_f64() / time.as_secs_f64(),
        );
    }
    println!();
}

async fn request_overhead() {
    println!("## Authenticated request overhead\n");
    let app = test_support::spawn_app_with(auth_svc::build, &[("SERVER_WORKERS", "1")]).await;
    let user = test_support::sign_in(&app, "bench@example.com").await;
    let keys = test_support::session::token_keys();

    let token_check = time_per_op(Duration::from_secs(2), 1000, || {
        let claims = keys
            .verify::<SessionClaims>(&user.token, Purpose::Session)
            .expect("the token verifies");
        assert_eq!(claims.extra.sid, user.session_id);
    });
    let store = |ttl_ms| {
        SessionStore::new(
            &app.database,
            &SessionSettings {
                mongodb_session_collection: "_SESSIONS".into(),
                session_cache_ttl_ms: ttl_ms,
            },
        )
    };
    let (uncached, cached) = (store(0), store(60_000));
    let session_db = time_per_op_async(2000, || async {
        assert!(uncached
            .is_active(&user.session_id, &user.user_id)
            .await
            .unwrap());
    })
    .await;
    let session_cached = time_per_op_async(100_000, || async {
        assert!(cached
            .is_active(&user.session_id, &user.user_id)
            .await
            .unwrap());
    })
    .await;

    let health = time_per_op_async(2000, || async {
        let response = app.get("/service/auth/v1/health").send().await.unwrap();
        assert_eq!(response.status(), 200);
    })
    .await;
    let profile_path = format!("/service/auth/v1/{}", user.user_key);
    let profile = time_per_op_async(2000, || async {
        let response = app
            .get(&profile_path)
            .bearer_auth(&user.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    })
    .await;

    println!("| Step | Time per request |");
    println!("| --- | --- |");
    println!(
        "| Token check (HS256 signature, claims, purpose) | {} |",
        micros(token_check)
    );
    println!(
        "| Session check, cache hit (`SESSION_CACHE_TTL_MS`) | {} |",
        micros(session_cached)
    );
    println!("| Session check, database read | {} |", micros(session_db));
    println!(
        "| HTTP `GET /health` (API key only), sequential | {} |",
        micros(health)
    );
    println!(
        "| HTTP `GET /{{user_key}}` (key + token + session + user read) | {} |",
        micros(profile)
    );
    println!(
        "| Difference: what authentication and the profile read add | {} |",
        micros(profile.saturating_sub(health))
    );
    app.stop().await;
}

#[tokio::main]
async fn main() {
    hashing();
    request_overhead().await;
}
