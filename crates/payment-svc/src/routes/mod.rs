//! The service's routes below `/service/payment/v1`: everything behind `X-API-Key` except
//! Stripe's webhook, which Stripe calls without our key and which proves itself with its
//! signature instead (the gateway exempts exactly that path).

use actix_web::web;

mod checkout;
mod payments;
mod webhook;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/checkout").post(checkout::create_checkout_session))
        .service(web::resource("/checkout/{id}").get(checkout::get_checkout_session))
        .service(web::resource("/payments").get(payments::list_payments));
}

pub(crate) fn configure_public(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/webhook").post(webhook::receive_event));
}
