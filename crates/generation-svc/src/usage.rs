//! Token usage per spender and UTC day, from Gemini's `usageMetadata` (`promptTokenCount`,
//! `candidatesTokenCount`, `totalTokenCount`), and the optional daily quotas checked before
//! each call: per signed-in user (`GENERATION_DAILY_TOKEN_QUOTA`), and one shared by every
//! call without a session that spends the server's `GENERATION_KEY`
//! (`GENERATION_ANONYMOUS_DAILY_TOKEN_QUOTA`): the API key ships inside client apps, so
//! without it anyone who extracts the key spends the server's Gemini budget unmetered.
//!
//! One document per spender and day, `_id` `"<user_id or anonymous>:<YYYY-MM-DD>"`, so
//! concurrent requests add to the same document with `$inc` instead of racing to create it.
//! The quota is checked before a call and usage added after it, so concurrent calls can
//! overshoot it by what they use; the next call is then refused.

use std::time::Duration;

use coglex_common::mongo::{as_u64, deadline};
use coglex_common::web::{AuthUser, Caller, MaybeAuthUser};
use coglex_common::ApiError;
use mongodb::bson::{doc, DateTime, Document};
use mongodb::options::UpdateOptions;
use mongodb::Collection;
use serde::Deserialize;

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

#[derive(Clone)]
pub struct UsageLedger {
    collection: Collection<Document>,
    /// Tokens per user per UTC day; 0 means no quota.
    daily_quota: u64,
    /// Tokens per UTC day for all anonymous calls together; 0 means no quota.
    anonymous_daily_quota: u64,
}

impl UsageLedger {
    pub fn new(
        collection: Collection<Document>,
        daily_quota: u64,
        anonymous_daily_quota: u64,
    ) -> Self {
        Self {
            collection,
            daily_quota,
            anonymous_daily_quota,
        }
    }

    /// Refuses with 429 (and `Retry-After` until the next UTC day) a spender over today's
    /// quota.
    pub async fn check_quota(&self, spender: &Spender) -> Result<(), ApiError> {
        let (quota, whose) = match spender {
            Spender::User(_) => (self.daily_quota, "daily token quota"),
            Spender::Anonymous => (
                self.anonymous_daily_quota,
                "daily token quota of calls without a session",
            ),
        };
        if quota == 0 {
            return Ok(());
        }
        let now = DateTime::now().timestamp_millis();
        let lookup = self
            .collection
            .find_one(doc! { "_id": document_id(spender, now) });
        let used = deadline(DEADLINE, lookup)
            .await??
            .and_then(|d| d.get("total_tokens").and_then(as_u64))
            .unwrap_or(0);
        if used >= quota {
            let retry_after_secs = ((DAY_MS - now.rem_euclid(DAY_MS)) / 1000).max(1) as u64;
            return Err(ApiError::new(
                coglex_common::ErrorCode::RateLimited,
                format!("the {whose} ({quota} tokens) is used up; it resets at 00:00 UTC"),
            )
            .retry_after(retry_after_secs));
        }
        Ok(())
    }

    /// Adds one call's usage to the spender's day.
    pub async fn record(&self, spender: &Spender, usage: UsageMetadata) -> Result<(), ApiError> {
        let now = DateTime::now();
        let millis = now.timestamp_millis();
        let on_insert = match spender {
            Spender::User(user) => doc! {
                "user_id": &user.user_id,
                "user_key": &user.user_key,
                "day": day(millis),
            },
            Spender::Anonymous => doc! { "anonymous": true, "day": day(millis) },
        };
        self.collection
            .update_one(
                doc! { "_id": document_id(spender, millis) },
                doc! {
                    "$inc": {
                        "requests": 1_i64,
                        "prompt_tokens": saturating_i64(usage.prompt_token_count),
                        "candidates_tokens": saturating_i64(usage.candidates_token_count),
                        "total_tokens": saturating_i64(usage.total_token_count),
                    },
                    "$set": { "updated_at": now },
                    "$setOnInsert": on_insert,
                },
            )
            .with_options(UpdateOptions::builder().upsert(true).build())
            .await?;
        Ok(())
    }

    /// [`Self::record`], logging instead of failing: the call has been made and paid for, so
    /// a bookkeeping problem must not take its answer away.
    pub async fn record_or_log(&self, spender: &Spender, usage: UsageMetadata) {
        if let Err(err) = deadline(DEADLINE, self.record(spender, usage))
            .await
            .and_then(|r| r)
        {
            tracing::warn!(spender = %spender.id(), error = %err, "could not record token usage");
        }
    }
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
