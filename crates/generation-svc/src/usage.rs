//! Token usage per spender and UTC day, from Gemini's `usageMetadata` (`promptTokenCount`,
//! `candidatesTokenCount`, `totalTokenCount`), and the optional daily quotas checked before
//! each call: per signed-in user (`GENERATION_DAILY_TOKEN_QUOTA`), and one shared by every
//! call without a session that spends the server's `GENERATION_KEY`
//! (`GENERATION_ANONYMOUS_DAILY_TOKEN_QUOTA`): the API key ships inside client apps, so
//! without it anyone who extracts the key spends the server's Gemini budget unmetered.
//!
//! One document per spender and day, `_id` `"<user_id or anonymous>:<YYYY-MM-DD>"`, so
//! concurrent requests add to the same document with `$inc` instead of racing to create it.
//!
//! Gemini tells what a call cost only once it ends, so a metered call first holds an estimate
//! of its tokens (its [`estimate`], at most the whole quota) and is admitted only while the
//! day's `committed` (tokens used plus held) is under the quota: concurrent calls cannot all
//! spend the same remainder. The quota is overshot by at most the last admitted call's hold,
//! plus what calls use beyond their holds. When a call ends its hold is swapped for what it
//! used. Each hold is an entry of the day's `holds`, so it is given back exactly once: by its
//! call, or, when a replica died mid-call and left it, by the day's next call once the hold is
//! older than [`HOLD_LIFETIME`].

use std::time::Duration;

use coglex_common::mongo::{as_u64, deadline, is_duplicate_key, outcome_within};
use coglex_common::web::{AuthUser, Background, Caller, MaybeAuthUser, Tracked};
use coglex_common::ApiError;
use mongodb::bson::{doc, oid::ObjectId, DateTime, Document};
use mongodb::options::{ReturnDocument, UpdateOptions};
use mongodb::Collection;
use serde::Deserialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const DAY_MS: i64 = 86_400_000;
/// Longest a usage read or write may take: a quota check answers 503 past it, and a
/// recording gives up (and is logged) rather than hold back an answer already paid for.
const DEADLINE: Duration = Duration::from_secs(5);

/// Gemini's `usageMetadata`, the counts we keep of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    #[serde(default)]
    pub prompt_token_count: u64,
    #[serde(default)]
    pub candidates_token_count: u64,
    #[serde(default)]
    pub total_token_count: u64,
}

/// The part of a `GenerateContentResponse` that says what it cost.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageProbe {
    pub usage_metadata: Option<UsageMetadata>,
}

/// Whose budget a call spends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spender {
    /// A signed-in user (Bearer session token).
    User(AuthUser),
    /// Any call without a session on the server's `GENERATION_KEY`: one budget for all.
    Anonymous,
}

impl Spender {
    /// Who pays for a call, if it is metered: the signed-in user; else, when the server's key
    /// is spent by a non-admin caller, everyone anonymous together. A caller who brings their
    /// own Gemini `key` pays Google themselves, signed in or not, and an admin key without a
    /// session is the trusted service role: neither is metered.
    pub fn of(user: MaybeAuthUser, caller: Caller, brings_own_key: bool) -> Option<Self> {
        match user.0 {
            _ if brings_own_key => None,
            Some(user) => Some(Self::User(user)),
            None if caller.admin => None,
            None => Some(Self::Anonymous),
        }
    }

    pub(crate) fn id(&self) -> &str {
        match self {
            Self::User(user) => &user.user_id,
            Self::Anonymous => "anonymous",
        }
    }
}

/// Longest a hold is kept for a call that never ended it: well past any live call
/// (`GENERATION_TIMEOUT_MS` is 2 minutes by default), short enough that a replica's crash does
/// not lock its callers out until midnight.
const HOLD_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// The day's holds of calls not yet ended, by hold id: `{tokens, at}`.
const HOLDS: &str = "holds";

/// Most answers Gemini writes for one call (`generationConfig.candidateCount`).
const MAX_CANDIDATES: u64 = 8;

/// What a call may use while it runs, in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// About a token per four bytes of the request: more than inline media costs.
    pub prompt: u64,
    /// Its output limit, `generationConfig.maxOutputTokens` (or `default_output` without a
    /// positive one: Gemini takes 0 as unset), for each of its `candidateCount` answers.
    pub output: u64,
    /// How many answers it asks for (`candidateCount`, 1 to 8).
    pub answers: u64,
}

impl Estimate {
    pub fn total(self) -> u64 {
        self.prompt.saturating_add(self.output)
    }
}

/// What a call of `request_bytes` may use while it runs; the rest is given back when it ends.
pub fn estimate(
    request_bytes: usize,
    request: &serde_json::Value,
    default_output: u64,
) -> Estimate {
    let config = |name: &str| {
        request
            .get("generationConfig")
            .and_then(|config| config.get(name))
            .and_then(serde_json::Value::as_u64)
            .filter(|&n| n > 0)
    };
    let per_answer = config("maxOutputTokens").unwrap_or(default_output);
    let answers = config("candidateCount").unwrap_or(1).min(MAX_CANDIDATES);
    Estimate {
        prompt: (request_bytes as u64).div_ceil(4),
        output: per_answer.saturating_mul(answers),
        answers,
    }
}

impl UsageMetadata {
    /// This usage, raised to at least `prompt` and `candidates` tokens: what a call cut short
    /// is charged, since Gemini reports the output's count only at the end.
    pub fn at_least(self, prompt: u64, candidates: u64) -> Self {
        let prompt = self.prompt_token_count.max(prompt);
        let candidates = self.candidates_token_count.max(candidates);
        Self {
            prompt_token_count: prompt,
            candidates_token_count: candidates,
            total_token_count: self
                .total_token_count
                .max(prompt.saturating_add(candidates)),
        }
    }
}

#[derive(Clone)]
pub struct UsageLedger {
    collection: Collection<Document>,
    /// Tokens per user per UTC day; 0 means no quota.
    daily_quota: u64,
    /// Tokens per UTC day for all anonymous calls together; 0 means no quota.
    anonymous_daily_quota: u64,
    background: Background,
}

/// A metered call's claim on its spender's day, taken by [`UsageLedger::admit`]. Settle it
/// with what the call used. Dropped unsettled (its request stopped mid-call, say at
/// shutdown, while Google bills what it received), it is swapped in the background for the
/// prompt's estimate.
pub struct Hold {
    ledger: UsageLedger,
    held: Option<Held>,
    /// What the call was admitted with: its prompt's estimate stands in for Gemini's count
    /// when a call cut short had none.
    estimate: Estimate,
    /// Keeps a stopping service waiting until this hold has been handed over.
    _tracked: Tracked,
}

#[derive(Debug, Clone)]
struct Held {
    spender: Spender,
    /// The day the call started, which its usage counts on.
    day_id: String,
    /// The path of the hold's entry in its day's document: `holds.<id>`.
    path: String,
    /// 0 when the spender has no quota: there is only usage to record.
    tokens: u64,
    taken_at: DateTime,
}

impl Hold {
    /// Swaps the hold for what the call used (`None` when it failed or told nothing).
    pub async fn settle(self, usage: Option<UsageMetadata>) {
        if let Some(settling) = self.settle_later(usage) {
            let _ = settling.await;
        }
    }

    /// [`Self::settle`] in the background, where it outlives the request and its worker.
    pub fn settle_later(mut self, usage: Option<UsageMetadata>) -> Option<JoinHandle<()>> {
        let held = self.held.take()?;
        Some(self.ledger.settle_in_background(held, usage))
    }

    /// The call's estimate, as admitted.
    pub fn estimate(&self) -> Estimate {
        self.estimate
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            let prompt = UsageMetadata::default().at_least(self.estimate.prompt, 0);
            self.ledger.settle_in_background(held, Some(prompt));
        }
    }
}

impl UsageLedger {
    pub fn new(
        collection: Collection<Document>,
        daily_quota: u64,
        anonymous_daily_quota: u64,
        background: Background,
    ) -> Self {
        Self {
            collection,
            daily_quota,
            anonymous_daily_quota,
            background,
        }
    }

    /// Admits a call that may use `estimate` tokens, holding them (at most the whole quota)
    /// until it ends. Refuses with 429 a spender whose day is used up (`Retry-After` until
    /// the next UTC day) or held by calls still running (`Retry-After` 1 second).
    pub async fn admit(&self, spender: Spender, estimate: Estimate) -> Result<Hold, ApiError> {
        let (quota, _) = self.quota_of(&spender);
        let now = DateTime::now();
        let held = Held {
            day_id: document_id(&spender, now.timestamp_millis()),
            tokens: if quota == 0 {
                0
            } else {
                estimate.total().clamp(1, quota)
            },
            path: format!("{HOLDS}.{}", ObjectId::new().to_hex()),
            taken_at: now,
            spender,
        };
        if held.tokens > 0 {
            self.take_detached(held.clone(), quota).await?;
        }
        Ok(Hold {
            ledger: self.clone(),
            held: Some(held),
            estimate,
            _tracked: self.background.token(),
        })
    }

    fn quota_of(&self, spender: &Spender) -> (u64, &'static str) {
        match spender {
            Spender::User(_) => (self.daily_quota, "daily token quota"),
            Spender::Anonymous => (
                self.anonymous_daily_quota,
                "daily token quota of calls without a session",
            ),
        }
    }

    /// [`Self::take`] in a task of its own that learns its outcome: a hold taken after the
    /// caller stopped waiting (past [`DEADLINE`], or its client left) is given back at once
    /// rather than left until reclaimed. A take whose outcome is unknown (a network error or
    /// a write concern failing after the write) may still leave one; a reclaim finds it.
    async fn take_detached(&self, held: Held, quota: u64) -> Result<(), ApiError> {
        let (tell, answer) = oneshot::channel();
        let ledger = self.clone();
        tokio::spawn(async move {
            let taken = deadline(2 * DEADLINE, ledger.take(&held, quota))
                .await
                .and_then(|taken| taken);
            let (outcome, day) = match taken {
                Ok(day) => (Ok(()), Some(day)),
                Err(error) => (Err(error), None),
            };
            if let Err(Ok(())) = tell.send(outcome) {
                ledger.settle_in_background(held.clone(), None);
            }
            // Housekeeping once the caller has its answer: a failure here refuses no one.
            if let Some(day) = day {
                if let Err(err) = ledger.reclaim(&held, &day).await {
                    tracing::warn!(day = %held.day_id, error = %err, "could not give back stale token holds");
                }
            }
        });
        outcome_within(DEADLINE, answer).await
    }

    /// Takes the hold, answering the holds its day had before.
    async fn take(&self, held: &Held, quota: u64) -> Result<Document, ApiError> {
        let tokens = saturating_i64(held.tokens);
        for _ in 0..3 {
            // Matches only a day under the quota; on a day at it, the upsert's insert meets the
            // existing `_id` and fails as a duplicate.
            let taken = self
                .collection
                .find_one_and_update(
                    doc! { "_id": &held.day_id, "committed": { "$lt": saturating_i64(quota) } },
                    doc! {
                        "$inc": { "committed": tokens },
                        "$set": { &held.path: { "tokens": tokens, "at": held.taken_at } },
                        "$setOnInsert": on_insert(&held.spender, held.taken_at),
                    },
                )
                .upsert(true)
                .return_document(ReturnDocument::Before)
                .projection(doc! { HOLDS: 1 })
                .await;
            match taken {
                Ok(before) => return Ok(before.unwrap_or_default()),
                Err(err) if is_duplicate_key(&err) => {}
                Err(err) => return Err(err.into()),
            }
            let day = self
                .collection
                .find_one(doc! { "_id": &held.day_id })
                .await?
                .unwrap_or_default();
            if !day.contains_key("committed") {
                self.adopt(&held.day_id, &day).await?;
                continue;
            }
            let count = |field: &str| day.get(field).and_then(as_u64).unwrap_or(0);
            if count("committed") < quota {
                continue; // a hold was given back, or two first calls raced to insert the day
            }
            if count("total_tokens") >= quota {
                return Err(self
                    .refusal(&held.spender, "is used up; it resets at 00:00 UTC")
                    .retry_after(seconds_to_midnight(held.taken_at)));
            }
            if !self.reclaim(held, &day).await? {
                break;
            }
        }
        Err(self
            .refusal(
                &held.spender,
                "is held by calls still running; retry in a moment",
            )
            .retry_after(1))
    }

    /// Gives a day recorded before holds existed (usage only) its `committed`, unless its
    /// usage changed since it was read.
    async fn adopt(&self, day_id: &str, day: &Document) -> Result<(), ApiError> {
        let total = day.get("total_tokens").cloned();
        let used = total.as_ref().and_then(as_u64).unwrap_or(0);
        let mut filter = doc! { "_id": day_id, "committed": { "$exists": false } };
        filter.insert(
            "total_tokens",
            total.unwrap_or_else(|| doc! { "$exists": false }.into()),
        );
        self.collection
            .update_one(
                filter,
                doc! { "$set": { "committed": saturating_i64(used) } },
            )
            .await?;
        Ok(())
    }

    fn refusal(&self, spender: &Spender, state: &str) -> ApiError {
        let (quota, whose) = self.quota_of(spender);
        ApiError::new(
            coglex_common::ErrorCode::RateLimited,
            format!("the {whose} ({quota} tokens) {state}"),
        )
    }

    /// Gives back the holds of `day` older than [`HOLD_LIFETIME`]: of calls long over, whose
    /// replica died before they ended. Each goes only if still there, so none is given back
    /// twice. Answers whether any went.
    async fn reclaim(&self, held: &Held, day: &Document) -> Result<bool, ApiError> {
        let Ok(holds) = day.get_document(HOLDS) else {
            return Ok(false);
        };
        let mut reclaimed = false;
        for (id, hold) in holds {
            let Some(hold) = hold.as_document() else {
                continue;
            };
            let tokens = hold.get("tokens").and_then(as_u64).unwrap_or(0);
            match hold.get_datetime("at") {
                Ok(at) if is_stale(*at, held.taken_at) => {}
                _ => continue,
            }
            let path = format!("{HOLDS}.{id}");
            let gone = doc! { "committed": -saturating_i64(tokens) };
            reclaimed |= self.release(&held.day_id, &path, gone).await?;
        }
        Ok(reclaimed)
    }

    /// Removes the hold at `path` from its day, with `inc`, if it is still there; answers
    /// whether it was.
    async fn release(&self, day_id: &str, path: &str, inc: Document) -> Result<bool, ApiError> {
        let released = self
            .collection
            .update_one(
                doc! { "_id": day_id, path: { "$exists": true } },
                doc! {
                    "$inc": inc,
                    "$unset": { path: "" },
                    "$set": { "updated_at": DateTime::now() },
                },
            )
            .await?;
        Ok(released.modified_count == 1)
    }

    /// Adds what a call used to its day and gives its hold back, in one write. A hold that was
    /// reclaimed meanwhile is not given back twice: then only the usage is added.
    async fn settle(&self, held: &Held, usage: Option<UsageMetadata>) -> Result<(), ApiError> {
        let now = DateTime::now();
        let used = usage.map(|usage| {
            doc! {
                "requests": 1_i64,
                "prompt_tokens": saturating_i64(usage.prompt_token_count),
                "candidates_tokens": saturating_i64(usage.candidates_token_count),
                "total_tokens": saturating_i64(usage.total_token_count),
                "committed": saturating_i64(usage.total_token_count),
            }
        });
        if held.tokens > 0 {
            let tokens = saturating_i64(held.tokens);
            let mut inc = used.clone().unwrap_or_default();
            let committed = inc.get_i64("committed").unwrap_or(0);
            inc.insert("committed", committed.saturating_sub(tokens));
            if self.release(&held.day_id, &held.path, inc).await? {
                return Ok(());
            }
        }
        let Some(used) = used else {
            return Ok(());
        };
        self.collection
            .update_one(
                doc! { "_id": &held.day_id },
                doc! {
                    "$inc": used,
                    "$set": { "updated_at": now },
                    "$setOnInsert": on_insert(&held.spender, held.taken_at),
                },
            )
            .with_options(UpdateOptions::builder().upsert(true).build())
            .await?;
        Ok(())
    }

    fn settle_in_background(&self, held: Held, usage: Option<UsageMetadata>) -> JoinHandle<()> {
        let ledger = self.clone();
        self.background
            .spawn(async move { ledger.settle_or_log(held, usage).await })
    }

    /// [`Self::settle`], logging instead of failing: the call has been made and paid for, so
    /// a bookkeeping problem must not take its answer away.
    async fn settle_or_log(&self, held: Held, usage: Option<UsageMetadata>) {
        if let Err(err) = deadline(DEADLINE, self.settle(&held, usage))
            .await
            .and_then(|r| r)
        {
            tracing::warn!(spender = %held.spender.id(), error = %err, "could not record token usage");
        }
    }
}

/// What a day's document is created with.
fn on_insert(spender: &Spender, now: DateTime) -> Document {
    let day = day(now.timestamp_millis());
    match spender {
        Spender::User(user) => doc! {
            "user_id": &user.user_id,
            "user_key": &user.user_key,
            "day": day,
        },
        Spender::Anonymous => doc! { "anonymous": true, "day": day },
    }
}

/// Whether a hold taken at `taken_at` is older than [`HOLD_LIFETIME`].
fn is_stale(taken_at: DateTime, now: DateTime) -> bool {
    now.timestamp_millis() - taken_at.timestamp_millis() > HOLD_LIFETIME.as_millis() as i64
}

fn seconds_to_midnight(now: DateTime) -> u64 {
    let now = now.timestamp_millis();
    ((DAY_MS - now.rem_euclid(DAY_MS)) / 1000).max(1) as u64
}

fn document_id(spender: &Spender, now_ms: i64) -> String {
    format!("{}:{}", spender.id(), day(now_ms))
}

/// `YYYY-MM-DD` of a UTC instant.
fn day(now_ms: i64) -> String {
    let midnight = now_ms - now_ms.rem_euclid(DAY_MS);
    DateTime::from_millis(midnight)
        .try_to_rfc3339_string()
        .map(|s| s[..10].to_owned())
        .unwrap_or_else(|_| format!("day-{}", midnight / DAY_MS))
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_key_is_spent_by_its_user_or_by_everyone_anonymous_together() {
        let ada = AuthUser {
            user_id: "65a1b2c3d4e5f60718293a4b".into(),
            user_key: "ada@example.com".into(),
            session_id: "s".into(),
        };
        let client = Caller { admin: false };
        let admin = Caller { admin: true };
        let signed_in = MaybeAuthUser(Some(ada.clone()));
        let none = || MaybeAuthUser(None);

        assert_eq!(Spender::of(signed_in.clone(), client, true), None);
        assert_eq!(
            Spender::of(signed_in, admin, false),
            Some(Spender::User(ada))
        );
        assert_eq!(Spender::of(none(), client, false), Some(Spender::Anonymous));
        assert_eq!(Spender::of(none(), client, true), None);
        assert_eq!(Spender::of(none(), admin, false), None);
    }

    #[test]
    fn a_call_is_estimated_at_its_request_and_its_output_limit() {
        let total = |config: serde_json::Value, bytes| {
            estimate(
                bytes,
                &serde_json::json!({ "generationConfig": config }),
                8192,
            )
            .total()
        };
        assert_eq!(
            total(serde_json::json!({ "maxOutputTokens": 100 }), 400),
            200
        );
        assert_eq!(
            estimate(401, &serde_json::json!({}), 8192),
            Estimate {
                prompt: 101,
                output: 8192,
                answers: 1,
            }
        );
        assert_eq!(
            total(serde_json::json!({ "maxOutputTokens": "lots" }), 0),
            8192
        );
    }

    #[test]
    fn an_unset_output_limit_or_several_answers_cannot_shrink_the_estimate() {
        let output = |config: serde_json::Value| {
            estimate(0, &serde_json::json!({ "generationConfig": config }), 8192).output
        };
        assert_eq!(output(serde_json::json!({ "maxOutputTokens": 0 })), 8192);
        assert_eq!(
            output(serde_json::json!({ "maxOutputTokens": 100, "candidateCount": 3 })),
            300
        );
        assert_eq!(
            output(serde_json::json!({ "candidateCount": 1000 })),
            8 * 8192
        );
        assert_eq!(output(serde_json::json!({ "candidateCount": 0 })), 8192);
    }

    #[test]
    fn a_call_cut_short_is_charged_at_least_what_it_got_this_far() {
        let reported = UsageMetadata {
            prompt_token_count: 50,
            candidates_token_count: 0,
            total_token_count: 50,
        };
        let charged = reported.at_least(30, 12);
        assert_eq!(
            (
                charged.prompt_token_count,
                charged.candidates_token_count,
                charged.total_token_count
            ),
            (50, 12, 62)
        );
    }

    #[test]
    fn a_hold_goes_stale_after_the_hold_lifetime() {
        let now = DateTime::from_millis(1_705_314_600_000);
        let ago = |ms: i64| DateTime::from_millis(now.timestamp_millis() - ms);
        let lifetime = HOLD_LIFETIME.as_millis() as i64;
        assert!(!is_stale(ago(lifetime), now));
        assert!(is_stale(ago(lifetime + 1), now));
    }

    #[test]
    fn days_are_utc_calendar_dates() {
        assert_eq!(day(0), "1970-01-01");
        assert_eq!(day(1_705_314_600_000), "2024-01-15");
        assert_eq!(day(1_705_363_199_999), "2024-01-15");
        assert_eq!(day(1_705_363_200_000), "2024-01-16");
    }

    #[test]
    fn usage_metadata_reads_geminis_field_names() {
        let probe: UsageProbe = serde_json::from_str(
            r#"{"candidates": [], "usageMetadata": {"promptTokenCount": 15, "candidatesTokenCount": 67, "totalTokenCount": 82}}"#,
        )
        .unwrap();
        assert_eq!(
            probe.usage_metadata.unwrap(),
            UsageMetadata {
                prompt_token_count: 15,
                candidates_token_count: 67,
                total_token_count: 82
            }
        );
    }
}
