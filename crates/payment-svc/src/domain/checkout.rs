//! A checkout request in the original API's shape (`mode`, `success_url`, `cancel_url`,
//! `email`, `linedata`, `metadata`), checked against the rules Stripe applies to
//! `POST /v1/checkout/sessions` so bad input is refused before Stripe is called.
//!
//! Rules from Stripe's API reference: `price` or `price_data` per item; `unit_amount` a
//! non-negative integer in the currency's smallest unit, at most 99,999,999; currency a
//! three-letter ISO code; at most 100 line items in payment mode, and in subscription mode
//! at most 20 with recurring prices and 20 with one-time prices (billed on the first invoice
//! only); recurring intervals of at most three years; at most 8 product images. Inline
//! prices must be one-time in payment mode, and a subscription needs at least one recurring
//! price (a price id's type is only known to Stripe, which refuses a mismatch itself).

use serde_json::{Map, Value};

use super::metadata::Metadata;
use super::redirect_url::RedirectUrl;
use super::Invalid;

const MAX_UNIT_AMOUNT: u64 = 99_999_999;
const MAX_ITEMS_PAYMENT: usize = 100;
/// Of each kind, recurring and one-time.
const MAX_ITEMS_SUBSCRIPTION_EACH: usize = 20;
const MAX_IMAGES: usize = 8;
/// Stripe's limit on ids and short strings such as a product name.
const MAX_ID_LEN: usize = 255;
const MAX_TEXT_LEN: usize = 5_000;
/// RFC 5321's limit on a forward path.
const MAX_EMAIL_LEN: usize = 254;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Payment,
    Subscription,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::Subscription => "subscription",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Day,
    Week,
    Month,
    Year,
}

impl Interval {
    fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "day" => Self::Day,
            "week" => Self::Week,
            "month" => Self::Month,
            "year" => Self::Year,
            _ => return None,
        })
    }

    /// The largest `interval_count`: Stripe allows intervals of up to three years.
    fn max_count(self) -> u64 {
        match self {
            Self::Day => 1_095,
            Self::Week => 156,
            Self::Month => 36,
            Self::Year => 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurring {
    pub interval: Interval,
    pub interval_count: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductData {
    pub name: String,
    pub description: Option<String>,
    pub images: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Product {
    /// An existing Stripe product (`price_data.product`).
    Id(String),
    /// A product created inline (`price_data.product_data`).
    Data(ProductData),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceData {
    /// Lower-case ISO 4217 code.
    pub currency: String,
    /// In the currency's smallest unit (cents for usd).
    pub unit_amount: u64,
    pub product: Product,
    pub recurring: Option<Recurring>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Price {
    /// An existing Stripe price or plan id.
    Id(String),
    Data(PriceData),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    pub price: Price,
    /// Absent only for metered prices, where Stripe forbids a quantity.
    pub quantity: Option<u64>,
}

/// What the deployment allows beyond Stripe's own rules.
#[derive(Debug, Clone, Copy)]
pub struct Limits<'a> {
    /// Hosts the redirect URLs may use; empty means any.
    pub allowed_hosts: &'a [String],
    /// Price ids line items may use; empty means any, and inline `price_data` too.
    pub allowed_prices: &'a [String],
    pub max_quantity: u64,
}

/// A checkout request that Stripe should accept as far as we can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    pub mode: Mode,
    pub success_url: RedirectUrl,
    pub cancel_url: Option<RedirectUrl>,
    pub email: Option<String>,
    pub line_items: Vec<LineItem>,
    pub metadata: Metadata,
}

impl CheckoutRequest {
    /// Parses the JSON body; `user_id` is the signed-in caller, written into the metadata.
    pub fn parse(body: &Value, user_id: Option<&str>, limits: Limits<'_>) -> Result<Self, Invalid> {
        let body = body
            .as_object()
            .ok_or_else(|| Invalid::new("the body must be a JSON object"))?;
        let mode = match optional_str(body, "mode", "mode")? {
            Some("payment") => Mode::Payment,
            Some("subscription") => Mode::Subscription,
            _ => return Err(Invalid::new("mode must be `payment` or `subscription`")),
        };
        let success_url = optional_str(body, "success_url", "success_url")?
            .ok_or_else(|| Invalid::new("success_url is required"))?;
        let success_url = RedirectUrl::parse("success_url", success_url, limits.allowed_hosts)?;
        let cancel_url = optional_str(body, "cancel_url", "cancel_url")?
            .map(|raw| RedirectUrl::parse("cancel_url", raw, limits.allowed_hosts))
            .transpose()?;
        let email = optional_str(body, "email", "email")?
            .map(parse_email)
            .transpose()?;
        let line_items = parse_line_items(body.get("linedata"), mode, limits)?;
        let metadata = match body.get("metadata") {
            None | Some(Value::Null) => Metadata::parse(None, user_id)?,
            Some(Value::Object(map)) => Metadata::parse(Some(map), user_id)?,
            Some(_) => return Err(Invalid::new("metadata must be an object")),
        };
        Ok(Self {
            mode,
            success_url,
            cancel_url,
            email,
            line_items,
            metadata,
        })
    }
}

fn parse_line_items(
    raw: Option<&Value>,
    mode: Mode,
    limits: Limits<'_>,
) -> Result<Vec<LineItem>, Invalid> {
    let items = match raw {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => {
            return Err(Invalid::new(
                "linedata must be a non-empty array of line items",
            ))
        }
    };
    let max = match mode {
        Mode::Payment => MAX_ITEMS_PAYMENT,
        Mode::Subscription => 2 * MAX_ITEMS_SUBSCRIPTION_EACH,
    };
    if items.len() > max {
        return Err(Invalid(format!(
            "linedata may have at most {max} items in {} mode",
            mode.as_str()
        )));
    }
    let items = items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_line_item(&format!("linedata[{i}]"), item, mode, limits))
        .collect::<Result<Vec<_>, _>>()?;
    if mode == Mode::Subscription {
        check_subscription_items(&items)?;
    }
    Ok(items)
}

/// The split Stripe requires of a subscription, as far as inline prices show it.
fn check_subscription_items(items: &[LineItem]) -> Result<(), Invalid> {
    let inline = |recurring: bool| {
        items
            .iter()
            .filter(
                |item| matches!(&item.price, Price::Data(d) if d.recurring.is_some() == recurring),
            )
            .count()
    };
    let (recurring, one_time) = (inline(true), inline(false));
    for (count, kind) in [(recurring, "recurring"), (one_time, "one-time")] {
        if count > MAX_ITEMS_SUBSCRIPTION_EACH {
            return Err(Invalid(format!(
                "linedata may have at most {MAX_ITEMS_SUBSCRIPTION_EACH} items with {kind} prices in subscription mode"
            )));
        }
    }
    if one_time == items.len() {
        return Err(Invalid::new(
            "subscription mode needs at least one item with a recurring price (`price_data.recurring`)",
        ));
    }
    Ok(())
}

fn parse_line_item(
    path: &str,
    raw: &Value,
    mode: Mode,
    limits: Limits<'_>,
) -> Result<LineItem, Invalid> {
    let item = raw
        .as_object()
        .ok_or_else(|| Invalid(format!("{path} must be an object")))?;
    let price = match (item.get("price"), item.get("price_data")) {
        (Some(_), None) => {
            let id = parse_id(&format!("{path}.price"), item.get("price"))?;
            if !limits.allowed_prices.is_empty() && !limits.allowed_prices.contains(&id) {
                return Err(Invalid(format!(
                    "{path}.price is not one of the prices on sale"
                )));
            }
            Price::Id(id)
        }
        (None, Some(_)) if !limits.allowed_prices.is_empty() => {
            return Err(Invalid(format!(
                "{path}.price_data is not accepted: use one of the prices on sale"
            )))
        }
        (None, Some(data)) => {
            Price::Data(parse_price_data(&format!("{path}.price_data"), data, mode)?)
        }
        _ => {
            return Err(Invalid(format!(
                "{path} must have exactly one of `price` or `price_data`"
            )))
        }
    };
    let quantity = match item.get("quantity") {
        None | Some(Value::Null) => None,
        Some(value) => match value.as_u64() {
            Some(n) if (1..=limits.max_quantity).contains(&n) => Some(n),
            _ => {
                return Err(Invalid(format!(
                    "{path}.quantity must be an integer from 1 to {}",
                    limits.max_quantity
                )))
            }
        },
    };
    Ok(LineItem { price, quantity })
}

fn parse_price_data(path: &str, raw: &Value, mode: Mode) -> Result<PriceData, Invalid> {
    let data = raw
        .as_object()
        .ok_or_else(|| Invalid(format!("{path} must be an object")))?;
    let currency = optional_str(data, "currency", &format!("{path}.currency"))?
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        .ok_or_else(|| {
            Invalid(format!(
                "{path}.currency must be a three-letter ISO currency code"
            ))
        })?
        .to_ascii_lowercase();
    let unit_amount = data
        .get("unit_amount")
        .and_then(Value::as_u64)
        .filter(|amount| *amount <= MAX_UNIT_AMOUNT)
        .ok_or_else(|| {
            Invalid(format!(
                "{path}.unit_amount must be an integer from 0 to {MAX_UNIT_AMOUNT}, in the currency's smallest unit"
            ))
        })?;
    let product = match (data.get("product"), data.get("product_data")) {
        (Some(_), None) => Product::Id(parse_id(&format!("{path}.product"), data.get("product"))?),
        (None, Some(product)) => Product::Data(parse_product_data(
            &format!("{path}.product_data"),
            product,
        )?),
        _ => {
            return Err(Invalid(format!(
                "{path} must have exactly one of `product` or `product_data`"
            )))
        }
    };
    let recurring = match data.get("recurring") {
        None | Some(Value::Null) => None,
        Some(raw) => Some(parse_recurring(&format!("{path}.recurring"), raw)?),
    };
    if mode == Mode::Payment && recurring.is_some() {
        return Err(Invalid(format!(
            "{path}.recurring is not allowed in payment mode; use subscription mode for recurring prices"
        )));
    }
    Ok(PriceData {
        currency,
        unit_amount,
        product,
        recurring,
    })
}

fn parse_product_data(path: &str, raw: &Value) -> Result<ProductData, Invalid> {
    let data = raw
        .as_object()
        .ok_or_else(|| Invalid(format!("{path} must be an object")))?;
    let name = optional_str(data, "name", &format!("{path}.name"))?
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.len() <= MAX_TEXT_LEN)
        .ok_or_else(|| Invalid(format!("{path}.name is required")))?
        .to_owned();
    let description = optional_str(data, "description", &format!("{path}.description"))?
        .filter(|d| !d.is_empty())
        .map(|d| {
            if d.len() > MAX_TEXT_LEN {
                Err(Invalid(format!(
                    "{path}.description must be at most {MAX_TEXT_LEN} characters"
                )))
            } else {
                Ok(d.to_owned())
            }
        })
        .transpose()?;
    let images = match data.get("images") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(images)) if images.len() <= MAX_IMAGES => images
            .iter()
            .enumerate()
            .map(|(i, image)| {
                let field = format!("{path}.images[{i}]");
                let raw = image
                    .as_str()
                    .ok_or_else(|| Invalid(format!("{field} must be an absolute http(s) URL")))?;
                RedirectUrl::parse(&field, raw, &[]).map(|url| url.as_str().to_owned())
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(Invalid(format!(
                "{path}.images must be an array of at most {MAX_IMAGES} URLs"
            )))
        }
    };
    Ok(ProductData {
        name,
        description,
        images,
    })
}

fn parse_recurring(path: &str, raw: &Value) -> Result<Recurring, Invalid> {
    let data = raw
        .as_object()
        .ok_or_else(|| Invalid(format!("{path} must be an object")))?;
    let interval = optional_str(data, "interval", &format!("{path}.interval"))?
        .and_then(Interval::parse)
        .ok_or_else(|| {
            Invalid(format!(
                "{path}.interval must be `day`, `week`, `month` or `year`"
            ))
        })?;
    let interval_count = match data.get("interval_count") {
        None | Some(Value::Null) => None,
        Some(value) => match value.as_u64() {
            Some(n) if (1..=interval.max_count()).contains(&n) => Some(n),
            _ => {
                return Err(Invalid(format!(
                    "{path}.interval_count must be an integer from 1 to {} (at most three years)",
                    interval.max_count()
                )))
            }
        },
    };
    Ok(Recurring {
        interval,
        interval_count,
    })
}

/// A Stripe object id: short, printable, no separators that could alter a form key or path.
fn parse_id(path: &str, raw: Option<&Value>) -> Result<String, Invalid> {
    raw.and_then(Value::as_str)
        .filter(|id| {
            !id.is_empty()
                && id.len() <= MAX_ID_LEN
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
        .map(str::to_owned)
        .ok_or_else(|| Invalid(format!("{path} must be a Stripe id such as `price_123`")))
}

fn parse_email(raw: &str) -> Result<String, Invalid> {
    let invalid = || Invalid::new("email must be a valid email address");
    let (local, domain) = raw.rsplit_once('@').ok_or_else(invalid)?;
    let plausible = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && raw.len() <= MAX_EMAIL_LEN
        && !raw.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@');
    plausible.then(|| raw.to_owned()).ok_or_else(invalid)
}

/// A string field, `None` when absent or null, refused when of another type.
fn optional_str<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a str>, Invalid> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Invalid(format!("{path} must be a string"))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const LIMITS: Limits<'static> = Limits {
        allowed_hosts: &[],
        allowed_prices: &[],
        max_quantity: 1_000,
    };

    fn payment_example() -> Value {
        json!({
            "mode": "payment",
            "success_url": "https://example.com/success?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://example.com/cancel",
            "email": "customer@example.com",
            "linedata": [
                {
                    "price_data": {
                        "currency": "usd",
                        "product_data": {
                            "name": "Premium Subscription",
                            "description": "Monthly premium access",
                            "images": ["https://example.com/product-image.jpg"]
                        },
                        "unit_amount": 2999
                    },
                    "quantity": 1
                },
                {"price": "price_1234567890", "quantity": 2}
            ],
            "metadata": {"user_id": "user_123", "order_id": "order_456", "source": "web_app"}
        })
    }

    fn refusal(mutate: impl FnOnce(&mut Value)) -> String {
        let mut body = payment_example();
        mutate(&mut body);
        CheckoutRequest::parse(&body, None, LIMITS).unwrap_err().0
    }

    #[test]
    fn the_original_payment_example_parses() {
        let request = CheckoutRequest::parse(&payment_example(), Some("u1"), LIMITS).unwrap();
        assert_eq!(request.mode, Mode::Payment);
        assert_eq!(request.line_items.len(), 2);
        assert_eq!(
            request.line_items[1].price,
            Price::Id("price_1234567890".into())
        );
        assert_eq!(request.metadata.user_id(), Some("u1"));
        let Price::Data(data) = &request.line_items[0].price else {
            panic!("inline price expected");
        };
        assert_eq!((data.currency.as_str(), data.unit_amount), ("usd", 2999));
    }

    #[test]
    fn an_unknown_mode_is_refused() {
        let message = refusal(|b| b["mode"] = json!("setup"));
        assert_eq!(message, "mode must be `payment` or `subscription`");
    }

    #[test]
    fn an_item_needs_exactly_one_kind_of_price() {
        let message = refusal(|b| b["linedata"][1] = json!({"quantity": 1}));
        assert_eq!(
            message,
            "linedata[1] must have exactly one of `price` or `price_data`"
        );
    }

    #[test]
    fn amounts_and_quantities_must_be_integers_in_range() {
        for amount in [json!(-1), json!(19.99), json!("2999"), json!(100_000_000)] {
            let message =
                refusal(|b| b["linedata"][0]["price_data"]["unit_amount"] = amount.clone());
            assert!(message.contains("unit_amount"), "{amount}: {message}");
        }
        for quantity in [json!(0), json!(-2), json!(1.5), json!(1_001)] {
            let message = refusal(|b| b["linedata"][1]["quantity"] = quantity.clone());
            assert!(
                message.contains("linedata[1].quantity"),
                "{quantity}: {message}"
            );
        }
    }

    #[test]
    fn currencies_are_three_letters_and_lower_cased() {
        assert!(
            refusal(|b| b["linedata"][0]["price_data"]["currency"] = json!("usdollar"))
                .contains("currency")
        );
        let mut body = payment_example();
        body["linedata"][0]["price_data"]["currency"] = json!("EUR");
        let request = CheckoutRequest::parse(&body, None, LIMITS).unwrap();
        let Price::Data(data) = &request.line_items[0].price else {
            panic!("inline price expected");
        };
        assert_eq!(data.currency, "eur");
    }

    #[test]
    fn inline_prices_must_match_the_mode() {
        let message = refusal(|b| {
            b["mode"] = json!("subscription");
            b["linedata"].as_array_mut().unwrap().truncate(1);
        });
        assert!(
            message.contains("needs at least one item with a recurring price"),
            "{message}"
        );
        let message =
            refusal(|b| b["linedata"][0]["price_data"]["recurring"] = json!({"interval": "month"}));
        assert!(message.contains("not allowed in payment mode"), "{message}");
    }

    #[test]
    fn recurring_intervals_are_at_most_three_years() {
        let mut body = payment_example();
        body["mode"] = json!("subscription");
        body["linedata"][0]["price_data"]["recurring"] =
            json!({"interval": "month", "interval_count": 37});
        let message = CheckoutRequest::parse(&body, None, LIMITS).unwrap_err().0;
        assert!(message.contains("interval_count"), "{message}");
    }

    #[test]
    fn a_price_id_cannot_smuggle_form_syntax() {
        let message = refusal(|b| b["linedata"][1]["price"] = json!("price_1&mode=setup"));
        assert!(message.contains("linedata[1].price"), "{message}");
    }

    #[test]
    fn an_invalid_email_is_refused() {
        for email in ["customer", "a@b", "a b@example.com", "@example.com"] {
            let message = refusal(|b| b["email"] = json!(email));
            assert_eq!(message, "email must be a valid email address", "{email}");
        }
    }

    #[test]
    fn missing_or_empty_line_items_are_refused() {
        assert!(refusal(|b| b["linedata"] = json!([])).starts_with("linedata must be"));
        assert!(refusal(|b| b
            .as_object_mut()
            .unwrap()
            .remove("linedata")
            .map(|_| ())
            .unwrap_or(()))
        .starts_with("linedata must be"));
    }

    fn subscription_of(items: Vec<Value>) -> Result<CheckoutRequest, Invalid> {
        let mut body = payment_example();
        body["mode"] = json!("subscription");
        body["linedata"] = Value::Array(items);
        CheckoutRequest::parse(&body, None, LIMITS)
    }

    fn inline(recurring: bool) -> Value {
        let mut item = payment_example()["linedata"][0].clone();
        if recurring {
            item["price_data"]["recurring"] = json!({"interval": "month"});
        }
        item
    }

    #[test]
    fn too_many_items_for_the_mode_are_refused() {
        let ids = vec![json!({"price": "price_1", "quantity": 1}); 41];
        let message = subscription_of(ids).unwrap_err().0;
        assert_eq!(
            message,
            "linedata may have at most 40 items in subscription mode"
        );
        for (many, kind) in [(true, "recurring"), (false, "one-time")] {
            let mut items = vec![inline(many); 21];
            items.push(inline(!many));
            let message = subscription_of(items).unwrap_err().0;
            assert!(
                message.contains(&format!("20 items with {kind} prices")),
                "{message}"
            );
        }
    }

    #[test]
    fn a_subscription_may_add_one_time_items_to_its_first_invoice() {
        let mut items = vec![inline(true); 20];
        items.extend(vec![inline(false); 20]);
        assert_eq!(subscription_of(items).unwrap().line_items.len(), 40);
        // Only Stripe knows whether a price id recurs.
        let with_id = vec![inline(false), json!({"price": "price_1", "quantity": 1})];
        assert!(subscription_of(with_id).is_ok());
    }
}
