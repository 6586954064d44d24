//! A small real HTTP server standing in for Stripe's API (`POST /v1/checkout/sessions`).
//!
//! It checks requests the way Stripe does (<https://docs.stripe.com/api>): the secret key as
//! `Authorization: Bearer`, a form-encoded body whose nested keys use brackets
//! (`line_items[0][price_data][product_data][name]`), unknown parameters refused, prices that
//! must exist and match the mode, and `Idempotency-Key`s that replay the first answer for the
//! same parameters and refuse other parameters. It answers with Checkout Session objects
//! shaped like Stripe's and with Stripe's error bodies
//! (`{"error": {"type", "code", "message", "param"}}`).
//!
//! Failures are programmed per request with [`FakeStripe::fail_next`].

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

/// The secret key the fake accepts (a test value, not a real key).
pub const FAKE_STRIPE_KEY: &str = "sk_test_coglex_fake_key_not_a_real_one";

/// A one-time price the fake holds: 15.00 usd.
pub const ONE_TIME_PRICE: &str = "price_1234567890";
/// A monthly recurring price the fake holds: 29.99 usd.
pub const RECURRING_PRICE: &str = "price_recurring_monthly_2999";

/// Parameters Stripe accepts at the top level of a Checkout Session creation (a subset of
/// the real list, enough for what Coglex sends); any other is refused as Stripe does.
const SESSION_PARAMS: &[&str] = &[
    "mode",
    "success_url",
    "cancel_url",
    "customer_email",
    "customer",
    "client_reference_id",
    "line_items",
    "metadata",
    "subscription_data",
    "payment_intent_data",
    "expand",
    "expires_at",
    "locale",
    "ui_mode",
    "allow_promotion_codes",
];

/// Parameters of one line item.
const LINE_ITEM_PARAMS: &[&str] = &[
    "price",
    "price_data",
    "quantity",
    "adjustable_quantity",
    "tax_rates",
    "metadata",
];
const PRICE_DATA_PARAMS: &[&str] = &[
    "currency",
    "unit_amount",
    "unit_amount_decimal",
    "product",
    "product_data",
    "recurring",
    "tax_behavior",
];
const PRODUCT_DATA_PARAMS: &[&str] = &[
    "name",
    "description",
    "images",
    "metadata",
    "tax_code",
    "unit_label",
];
const RECURRING_PARAMS: &[&str] = &["interval", "interval_count"];

/// A programmed answer to the next request, instead of the normal one.
#[derive(Debug, Clone)]
pub enum Failure {
    /// Stripe's error body for this status (400, 401, 402, 404, 429, 500, 503...).
    Status(u16),
    /// An error of this status with this message (e.g. one that quotes the key).
    Message(u16, String),
    /// This status with a body that is not JSON (what a proxy in front of Stripe may send).
    NotJson(u16),
    /// Wait this long, then answer normally.
    Delay(Duration),
}

/// A request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// The form body decoded into `(key, value)` pairs, in order, keys with their brackets.
    pub form: Vec<(String, String)>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The value of form key `key` (e.g. `line_items[0][price_data][product_data][name]`).
    pub fn param(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

struct Replay {
    /// The parameters, sorted, so a retry's key order does not matter (Stripe compares
    /// parameters, not bytes).
    params: Vec<(String, String)>,
    status: u16,
    body: Value,
}

struct State {
    failures: VecDeque<Failure>,
    requests: Vec<Recorded>,
    /// Sessions created, by id.
    sessions: BTreeMap<String, Value>,
    idempotency: HashMap<String, Replay>,
    /// Idempotency keys of requests still being answered.
    in_flight: HashSet<String>,
    counter: u64,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running fake Stripe.
pub struct FakeStripe {
    /// `http://127.0.0.1:<port>`: what `STRIPE_API_BASE` should be.
    pub url: String,
    state: Shared,
    handle: actix_web::dev::ServerHandle,
}

impl FakeStripe {
    pub async fn start() -> Self {
        let (listener, url) = crate::serve::free_listener();
        let state: Shared = Arc::new(Mutex::new(State {
            failures: VecDeque::new(),
            requests: Vec::new(),
            sessions: BTreeMap::new(),
            idempotency: HashMap::new(),
            in_flight: HashSet::new(),
            counter: 0,
        }));
        let shared = Arc::clone(&state);
        let handle = crate::serve::serve(listener, move |cfg| {
            cfg.app_data(web::Data::new(Arc::clone(&shared)))
                .default_service(web::to(answer));
        });
        Self { url, state, handle }
    }

    /// The settings that point payment-svc at this fake with the key it accepts.
    pub fn settings(&self) -> Vec<(String, String)> {
        vec![
            ("STRIPE_SECRET_KEY".into(), FAKE_STRIPE_KEY.into()),
            ("STRIPE_API_BASE".into(), self.url.clone()),
        ]
    }

    /// Answers the next request with `failure` (queued: call again for the one after).
    pub fn fail_next(&self, failure: Failure) {
        lock(&self.state).failures.push_back(failure);
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state).requests.clone()
    }

    /// The last request received.
    pub fn last_request(&self) -> Option<Recorded> {
        lock(&self.state).requests.last().cloned()
    }

    /// Sessions created (replays of an idempotent request create none).
    pub fn sessions(&self) -> Vec<Value> {
        lock(&self.state).sessions.values().cloned().collect()
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

async fn answer(req: HttpRequest, body: web::Bytes, state: web::Data<Shared>) -> HttpResponse {
    let form = decode_form(&body);
    let recorded = Recorded {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        headers: req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body: body.to_vec(),
        form: form.clone().unwrap_or_default(),
    };
    let key = recorded.header("idempotency-key").map(str::to_owned);
    {
        let mut guard = lock(&state);
        guard.requests.push(recorded.clone());
        // Stripe refuses a key while another request with it is still being processed.
        if let Some(key) = &key {
            if !guard.in_flight.insert(key.clone()) {
                let error = StripeErr {
                    kind: "invalid_request_error",
                    code: Some("idempotency_key_in_use"),
                    param: None,
                    message: format!(
                        "There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): {key}. Please try again later."
                    ),
                };
                return stripe_error(409, &error);
            }
        }
    }
    let response = respond(recorded, form, &state).await;
    if let Some(key) = key {
        lock(&state).in_flight.remove(&key);
    }
    response
}

async fn respond(
    recorded: Recorded,
    form: Option<Vec<(String, String)>>,
    state: &Shared,
) -> HttpResponse {
    let failure = lock(state).failures.pop_front();
    match failure {
        Some(Failure::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(Failure::Status(status)) => return stripe_error(status, &default_error(status)),
        Some(Failure::Message(status, message)) => {
            let mut error = default_error(status);
            error.message = message;
            return stripe_error(status, &error);
        }
        Some(Failure::NotJson(status)) => {
            return HttpResponse::build(status_code(status))
                .content_type("text/html")
                .body("<html><body>upstream error</body></html>");
        }
        None => {}
    }
    if let Err(error) = check_key(&recorded) {
        return stripe_error(401, &error);
    }
    if (recorded.method.as_str(), recorded.path.as_str()) != ("POST", "/v1/checkout/sessions") {
        return stripe_error(
            404,
            &StripeErr::invalid(format!(
                "Unrecognized request URL ({}: {}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
                recorded.method, recorded.path
            )),
        );
    }
    let content_type = recorded.header("content-type").unwrap_or_default();
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return stripe_error(
            400,
            &StripeErr::invalid(
                "Invalid request: the body must be form-encoded (application/x-www-form-urlencoded)".into(),
            ),
        );
    }
    let Some(form) = form else {
        return stripe_error(
            400,
            &StripeErr::invalid("Invalid request: malformed form body".into()),
        );
    };
    let mut params: Vec<(String, String)> = form.clone();
    params.sort();
    let key = recorded.header("idempotency-key").map(str::to_owned);
    if let Some(key) = &key {
        if let Some(replay) = lock(state).idempotency.get(key) {
            if replay.params != params {
                let error = StripeErr {
                    kind: "idempotency_error",
                    code: None,
                    param: None,
                    message: format!(
                        "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
                    ),
                };
                return stripe_error(400, &error);
            }
            return HttpResponse::build(status_code(replay.status))
                .insert_header(("idempotent-replayed", "true"))
                .insert_header(("request-id", request_id()))
                .json(&replay.body);
        }
    }
    let (status, body) = match create_session(state, &form) {
        Ok(session) => (200, session),
        Err(error) => (400, error.body()),
    };
    let mut guard = lock(state);
    if status == 200 {
        let id = body["id"].as_str().unwrap_or_default().to_owned();
        guard.sessions.insert(id, body.clone());
    }
    if let Some(key) = key {
        // Stripe saves the result of any request that got past validation of the key,
        // errors included, and replays it.
        guard.idempotency.insert(
            key,
            Replay {
                params,
                status,
                body: body.clone(),
            },
        );
    }
    HttpResponse::build(status_code(status))
        .insert_header(("request-id", request_id()))
        .json(body)
}

/// The `Authorization` check; a refusal is Stripe's 401.
fn check_key(request: &Recorded) -> Result<(), StripeErr> {
    let Some(auth) = request.header("authorization") else {
        return Err(StripeErr::invalid(
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').".into(),
        ));
    };
    match auth.strip_prefix("Bearer ") {
        Some(FAKE_STRIPE_KEY) => Ok(()),
        Some(key) => {
            // Stripe redacts all but the last four characters of a key it quotes.
            let tail = &key[key.len().saturating_sub(4)..];
            Err(StripeErr::invalid(format!(
                "Invalid API Key provided: sk_test_****{tail}"
            )))
        }
        None => Err(StripeErr::invalid(
            "Invalid authorization header: use Bearer auth".into(),
        )),
    }
}

/// A Stripe API error.
struct StripeErr {
    kind: &'static str,
    code: Option<&'static str>,
    param: Option<String>,
    message: String,
}

impl StripeErr {
    fn invalid(message: String) -> Self {
        Self {
            kind: "invalid_request_error",
            code: None,
            param: None,
            message,
        }
    }

    fn param(param: &str, code: &'static str, message: String) -> Self {
        Self {
            kind: "invalid_request_error",
            code: Some(code),
            param: Some(param.to_owned()),
            message,
        }
    }

    fn body(&self) -> Value {
        let mut error = json!({
            "type": self.kind,
            "message": self.message,
            "request_log_url": "https://dashboard.stripe.com/test/logs/req_fake",
        });
        if let Some(code) = self.code {
            error["code"] = json!(code);
        }
        if let Some(param) = &self.param {
            error["param"] = json!(param);
        }
        json!({ "error": error })
    }
}

fn default_error(status: u16) -> StripeErr {
    match status {
        401 => StripeErr::invalid("Invalid API Key provided: sk_test_****0000".into()),
        402 => StripeErr {
            kind: "card_error",
            code: Some("card_declined"),
            param: None,
            message: "Your card was declined.".into(),
        },
        404 => StripeErr::param("id", "resource_missing", "No such checkout.session".into()),
        429 => StripeErr {
            kind: "invalid_request_error",
            code: Some("rate_limit"),
            param: None,
            message: "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.".into(),
        },
        400..=499 => StripeErr::invalid("Invalid request.".into()),
        _ => StripeErr {
            kind: "api_error",
            code: None,
            param: None,
            message: "An unknown error occurred".into(),
        },
    }
}

fn stripe_error(status: u16, error: &StripeErr) -> HttpResponse {
    HttpResponse::build(status_code(status))
        .insert_header(("request-id", request_id()))
        .json(error.body())
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn request_id() -> String {
    format!("req_{}", &uuid::Uuid::new_v4().simple().to_string()[..14])
}

/// Decodes `application/x-www-form-urlencoded` into pairs; `None` when it is not valid.
fn decode_form(body: &[u8]) -> Option<Vec<(String, String)>> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((percent_decode(key)?, percent_decode(value)?))
        })
        .collect()
}

fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// `a[b][0][c]` as `["a", "b", "0", "c"]`; `None` when the brackets do not pair up.
fn key_path(key: &str) -> Option<Vec<&str>> {
    let (head, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    let mut path = vec![head];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let end = inner.find(']')?;
        path.push(&inner[..end]);
        rest = &inner[end + 1..];
    }
    (!head.is_empty()).then_some(path)
}

/// The form as nested objects (`line_items` → `{"0": {...}}`), as Stripe reads it.
fn nest(form: &[(String, String)]) -> Result<Map<String, Value>, StripeErr> {
    let mut root = Map::new();
    for (key, value) in form {
        let path = key_path(key)
            .ok_or_else(|| StripeErr::invalid(format!("Invalid parameter name: {key}")))?;
        let mut node = &mut root;
        for segment in &path[..path.len() - 1] {
            let child = node
                .entry((*segment).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            node = child
                .as_object_mut()
                .ok_or_else(|| StripeErr::invalid(format!("Invalid object: {key}")))?;
        }
        let last = path[path.len() - 1];
        if node.insert(last.to_owned(), json!(value)).is_some() {
            return Err(StripeErr::invalid(format!("Duplicate parameter: {key}")));
        }
    }
    Ok(root)
}

/// The children of `object` as a list: keys must be `0..n`, as Stripe's arrays are sent.
fn list<'a>(object: &'a Value, param: &str) -> Result<Vec<&'a Value>, StripeErr> {
    let map = object.as_object().ok_or_else(|| {
        StripeErr::param(
            param,
            "parameter_invalid_array",
            format!("Invalid array: {param}"),
        )
    })?;
    (0..map.len())
        .map(|i| {
            map.get(&i.to_string()).ok_or_else(|| {
                StripeErr::param(
                    param,
                    "parameter_invalid_array",
                    format!("Invalid array: {param}"),
                )
            })
        })
        .collect()
}

fn unknown_params(
    object: &Map<String, Value>,
    allowed: &[&str],
    prefix: &str,
) -> Result<(), StripeErr> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => {
            let name = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}[{key}]")
            };
            Err(StripeErr::param(
                &name,
                "parameter_unknown",
                format!("Received unknown parameter: {name}"),
            ))
        }
        None => Ok(()),
    }
}

fn integer(value: &Value, param: &str) -> Result<i64, StripeErr> {
    value
        .as_str()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| {
            StripeErr::param(
                param,
                "parameter_invalid_integer",
                format!("Invalid integer: {}", value.as_str().unwrap_or_default()),
            )
        })
}

fn string<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    object.get(key).and_then(Value::as_str)
}

/// A priced line as Stripe computes it.
struct Priced {
    amount: i64,
    currency: String,
    recurring: bool,
}

fn price_line(item: &Value, at: &str) -> Result<Priced, StripeErr> {
    let item = item
        .as_object()
        .ok_or_else(|| StripeErr::invalid(format!("Invalid object: {at}")))?;
    unknown_params(item, LINE_ITEM_PARAMS, at)?;
    let quantity = match item.get("quantity") {
        Some(q) => integer(q, &format!("{at}[quantity]"))?,
        None => 1,
    };
    if quantity < 0 {
        return Err(StripeErr::param(
            &format!("{at}[quantity]"),
            "parameter_invalid_integer",
            "This value must be greater than or equal to 0.".into(),
        ));
    }
    let (unit, currency, recurring) = match (item.get("price"), item.get("price_data")) {
        (Some(price), None) => match price.as_str().unwrap_or_default() {
            ONE_TIME_PRICE => (1500, "usd".to_owned(), false),
            RECURRING_PRICE => (2999, "usd".to_owned(), true),
            other => {
                return Err(StripeErr::param(
                    &format!("{at}[price]"),
                    "resource_missing",
                    format!("No such price: '{other}'"),
                ))
            }
        },
        (None, Some(data)) => price_data(data, &format!("{at}[price_data]"))?,
        _ => {
            return Err(StripeErr::param(
                at,
                "parameter_missing",
                format!("You must specify either `price` or `price_data` in {at}."),
            ))
        }
    };
    Ok(Priced {
        amount: unit * quantity,
        currency,
        recurring,
    })
}

fn price_data(data: &Value, at: &str) -> Result<(i64, String, bool), StripeErr> {
    let data = data
        .as_object()
        .ok_or_else(|| StripeErr::invalid(format!("Invalid object: {at}")))?;
    unknown_params(data, PRICE_DATA_PARAMS, at)?;
    let currency = string(data, "currency")
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_lowercase()))
        .ok_or_else(|| {
            StripeErr::param(
                &format!("{at}[currency]"),
                "parameter_missing",
                format!("Missing required param: {at}[currency]."),
            )
        })?;
    let unit = match data.get("unit_amount") {
        Some(amount) => integer(amount, &format!("{at}[unit_amount]"))?,
        None => {
            return Err(StripeErr::param(
                &format!("{at}[unit_amount]"),
                "parameter_missing",
                format!("Missing required param: {at}[unit_amount]."),
            ))
        }
    };
    if unit < 0 {
        return Err(StripeErr::param(
            &format!("{at}[unit_amount]"),
            "parameter_invalid_integer",
            "This value must be greater than or equal to 0.".into(),
        ));
    }
    match (data.get("product"), data.get("product_data")) {
        (Some(_), None) => {}
        (None, Some(product)) => {
            let product = product
                .as_object()
                .ok_or_else(|| StripeErr::invalid(format!("Invalid object: {at}[product_data]")))?;
            unknown_params(product, PRODUCT_DATA_PARAMS, &format!("{at}[product_data]"))?;
            if string(product, "name").is_none_or(str::is_empty) {
                return Err(StripeErr::param(
                    &format!("{at}[product_data][name]"),
                    "parameter_missing",
                    format!("Missing required param: {at}[product_data][name]."),
                ));
            }
            if let Some(images) = product.get("images") {
                list(images, &format!("{at}[product_data][images]"))?;
            }
        }
        _ => {
            return Err(StripeErr::param(
                at,
                "parameter_missing",
                format!("You must specify either `product` or `product_data` in {at}."),
            ))
        }
    }
    let recurring = match data.get("recurring") {
        None => false,
        Some(recurring) => {
            let recurring = recurring
                .as_object()
                .ok_or_else(|| StripeErr::invalid(format!("Invalid object: {at}[recurring]")))?;
            unknown_params(recurring, RECURRING_PARAMS, &format!("{at}[recurring]"))?;
            if !matches!(
                string(recurring, "interval"),
                Some("day" | "week" | "month" | "year")
            ) {
                return Err(StripeErr::param(
                    &format!("{at}[recurring][interval]"),
                    "parameter_invalid_string",
                    "Invalid recurring interval".into(),
                ));
            }
            true
        }
    };
    Ok((unit, currency.to_owned(), recurring))
}

fn create_session(state: &Shared, form: &[(String, String)]) -> Result<Value, StripeErr> {
    let params = nest(form)?;
    unknown_params(&params, SESSION_PARAMS, "")?;
    let mode = string(&params, "mode").unwrap_or("payment");
    if !matches!(mode, "payment" | "subscription" | "setup") {
        return Err(StripeErr::param(
            "mode",
            "parameter_invalid_string",
            "Invalid mode: must be one of payment, setup, or subscription".into(),
        ));
    }
    let items = match params.get("line_items") {
        Some(items) => list(items, "line_items")?,
        None => Vec::new(),
    };
    if items.is_empty() && mode != "setup" {
        return Err(StripeErr::param(
            "line_items",
            "parameter_missing",
            format!("`line_items` is required in `{mode}` mode."),
        ));
    }
    let priced = items
        .iter()
        .enumerate()
        .map(|(i, item)| price_line(item, &format!("line_items[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    if mode == "payment" && priced.iter().any(|p| p.recurring) {
        return Err(StripeErr::invalid(
            "You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.".into(),
        ));
    }
    let (recurring, one_time) = priced.iter().partition::<Vec<_>, _>(|p| p.recurring);
    let too_many = match mode {
        "payment" => priced.len() > 100,
        _ => recurring.len() > 20 || one_time.len() > 20,
    };
    if too_many {
        return Err(StripeErr::param(
            "line_items",
            "parameter_invalid_array_length",
            "Too many line items: payment mode takes 100, subscription mode 20 recurring and 20 one-time.".into(),
        ));
    }
    if mode == "subscription" && recurring.is_empty() {
        return Err(StripeErr::invalid(
            "You must provide at least one recurring price in `subscription` mode when using prices.".into(),
        ));
    }
    if let Some(first) = priced.first() {
        if priced.iter().any(|p| p.currency != first.currency) {
            return Err(StripeErr::invalid(
                "All line items must use the same currency.".into(),
            ));
        }
    }
    let metadata = match params.get("metadata") {
        None => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(StripeErr::invalid("Invalid object: metadata".into())),
    };
    if metadata.len() > 50 {
        return Err(StripeErr::param(
            "metadata",
            "parameter_invalid_object",
            "Metadata can have up to 50 keys.".into(),
        ));
    }
    let total: i64 = priced.iter().map(|p| p.amount).sum();
    let counter = {
        let mut guard = lock(state);
        guard.counter += 1;
        guard.counter
    };
    let id = format!(
        "cs_test_a1{:012}{}",
        counter,
        &uuid::Uuid::new_v4().simple().to_string()[..20]
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let currency = priced.first().map(|p| p.currency.clone());
    let mut session = json!({
        "id": id,
        "object": "checkout.session",
        "amount_subtotal": total,
        "amount_total": total,
        "cancel_url": params.get("cancel_url"),
        "client_reference_id": params.get("client_reference_id"),
        "created": now,
        "currency": currency,
        "customer_creation": if mode == "payment" { "if_required" } else { "always" },
        "customer_details": params.get("customer_email").map(|email| json!({
            "address": null, "email": email, "name": null, "phone": null,
            "tax_exempt": "none", "tax_ids": null
        })),
        "customer_email": params.get("customer_email"),
        "expires_at": now + 24 * 3600,
        "livemode": false,
        "metadata": metadata,
        "mode": mode,
        "payment_method_collection": if mode == "subscription" { "always" } else { "if_required" },
        "payment_status": "unpaid",
        "status": "open",
        "success_url": params.get("success_url"),
        "ui_mode": "hosted",
        "url": format!("https://checkout.stripe.com/c/pay/{id}#fidkdWxOYHwnPyd1blpxYHZxWjA0fake"),
    });
    // The rest of a new session as Stripe returns it: settings left at their defaults.
    let defaults = json!({
        "adaptive_pricing": {"enabled": false},
        "after_expiration": null,
        "allow_promotion_codes": null,
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "billing_address_collection": null,
        "client_secret": null,
        "consent": null,
        "consent_collection": null,
        "custom_fields": [],
        "custom_text": {
            "after_submit": null,
            "shipping_address": null,
            "submit": null,
            "terms_of_service_acceptance": null
        },
        "customer": null,
        "invoice": null,
        "invoice_creation": null,
        "locale": null,
        "payment_intent": null,
        "payment_link": null,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "phone_number_collection": {"enabled": false},
        "recovered_from": null,
        "saved_payment_method_options": null,
        "setup_intent": null,
        "shipping_address_collection": null,
        "shipping_cost": null,
        "shipping_options": [],
        "submit_type": null,
        "subscription": null,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
    });
    if let (Some(session), Value::Object(defaults)) = (session.as_object_mut(), defaults) {
        session.extend(defaults);
    }
    Ok(session)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracketed_keys_split_into_paths() {
        assert_eq!(
            key_path("line_items[0][price_data][product_data][name]").unwrap(),
            ["line_items", "0", "price_data", "product_data", "name"]
        );
        assert_eq!(key_path("mode").unwrap(), ["mode"]);
        assert!(key_path("a[b").is_none());
    }

    #[test]
    fn form_values_are_percent_decoded() {
        let form = decode_form(
            b"line_items%5B0%5D%5Bprice%5D=price_1&success_url=https%3A%2F%2Fx.io%2F%7BID%7D&n=a+b",
        )
        .unwrap();
        assert_eq!(
            form[0],
            ("line_items[0][price]".to_owned(), "price_1".to_owned())
        );
        assert_eq!(form[1].1, "https://x.io/{ID}");
        assert_eq!(form[2].1, "a b");
    }
}
