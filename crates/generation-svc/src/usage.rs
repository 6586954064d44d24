//! Token usage per signed-in user and UTC day, from Gemini's `usageMetadata`
//! (`promptTokenCount`, `candidatesTokenCount`, `totalTokenCount`), and the optional daily
//! quota (`GENERATION_DAILY_TOKEN_QUOTA`) checked before each call.
//!
//! One document per user and day, `_id` `"<user_id>:<YYYY-MM-DD>"`, so concurrent requests add
//! to the same document with `$inc` instead of racing to create it. The quota is checked
//! before a call and usage added after it, so concurrent calls can overshoot it by what they
//! use; the next call is then refused.

use std::time::Duration;

use coglex_common::mongo::deadline;
use coglex_common::web::AuthUser;
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

#[derive(Clone)]
pub struct UsageLedger {
    collection: Collection<Document>,
    /// Tokens per user per UTC day; 0 means no quota.
    daily_quota: u64,
}

impl UsageLedger {
    pub fn new(collection: Collection<Document>, daily_quota: u64) -> Self {
        Self {
            collection,
            daily_quota,
        }
    }

    /// Refuses with 429 (and `Retry-After` until the next UTC day) a user over today's quota.
    pub async fn check_quota(&self, user: &AuthUser) -> Result<(), ApiError> {
        if self.daily_quota == 0 {
            return Ok(());
        }
        let now = DateTime::now().timestamp_millis();
        let lookup = self
            .collection
            .find_one(doc! { "_id": document_id(user, now) });
        let used = deadline(DEADLINE, lookup)
            .await??
            .and_then(|d| d.get("total_tokens").and_then(as_u64))
            .unwrap_or(0);
        if used >= self.daily_quota {
            let retry_after_secs = ((DAY_MS - now.rem_euclid(DAY_MS)) / 1000).max(1) as u64;
            return Err(ApiError::new(
                coglex_common::ErrorCode::RateLimited,
                format!(
                    "the daily token quota ({} tokens) is used up; it resets at 00:00 UTC",
                    self.daily_quota
                ),
            )
            .retry_after(retry_after_secs));
        }
        Ok(())
    }

    /// Adds one call's usage to the user's day.
    pub async fn record(&self, user: &AuthUser, usage: UsageMetadata) -> Result<(), ApiError> {
        let now = DateTime::now();
        let millis = now.timestamp_millis();
        self.collection
            .update_one(
                doc! { "_id": document_id(user, millis) },
                doc! {
                    "$inc": {
                        "requests": 1_i64,
                        "prompt_tokens": saturating_i64(usage.prompt_token_count),
                        "candidates_tokens": saturating_i64(usage.candidates_token_count),
                        "total_tokens": saturating_i64(usage.total_token_count),
                    },
                    "$set": { "updated_at": now },
                    "$setOnInsert": {
                        "user_id": &user.user_id,
                        "user_key": &user.user_key,
                        "day": day(millis),
                    },
                },
            )
            .with_options(UpdateOptions::builder().upsert(true).build())
            .await?;
        Ok(())
    }

    /// [`Self::record`], logging instead of failing: the call has been made and paid for, so
    /// a bookkeeping problem must not take its answer away.
    pub async fn record_or_log(&self, user: &AuthUser, usage: UsageMetadata) {
        if let Err(err) = deadline(DEADLINE, self.record(user, usage))
            .await
            .and_then(|r| r)
        {
            tracing::warn!(user_id = %user.user_id, error = %err, "could not record token usage");
        }
    }
}

fn document_id(user: &AuthUser, now_ms: i64) -> String {
    format!("{}:{}", user.user_id, day(now_ms))
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

fn as_u64(value: &mongodb::bson::Bson) -> Option<u64> {
    match value {
        mongodb::bson::Bson::Int64(n) => u64::try_from(*n).ok(),
        mongodb::bson::Bson::Int32(n) => u64::try_from(*n).ok(),
        mongodb::bson::Bson::Double(n) if *n >= 0.0 => Some(*n as u64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
