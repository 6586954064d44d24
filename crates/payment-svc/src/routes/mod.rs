//! The service's routes below `/service/payment/v1`, each registered with its OpenAPI
//! description: everything behind `X-API-Key` except Stripe's webhook, which Stripe calls
//! without our key and which proves itself with its signature instead (the gateway exempts
//! exactly that path).

use coglex_common::web::Routes;

mod checkout;
mod payments;
mod webhook;

pub(crate) fn configure(routes: &mut Routes) {
    routes
        .add(
            checkout::__path_create_checkout_session,
            checkout::create_checkout_session,
        )
        .add(
            checkout::__path_get_checkout_session,
            checkout::get_checkout_session,
        )
        .add(payments::__path_list_payments, payments::list_payments)
        .add_public(webhook::__path_receive_event, webhook::receive_event);
}
