//! Who a request acts as: the signed-in user of a Bearer session token, else the service role
//! when the API key is an admin key, else 401.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use coglex_common::web::{Caller, MaybeAuthUser};
use coglex_common::ApiError;

use crate::domain::policy::Actor;

impl FromRequest for Actor {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let admin = req.extensions().get::<Caller>().is_some_and(|c| c.admin);
        let user = MaybeAuthUser::from_request(req, payload);
        Box::pin(async move {
            match user.await?.0 {
                Some(user) => Ok(Actor::User(user.user_id)),
                None if admin => Ok(Actor::Service),
                None => Err(ApiError::unauthorized("a Bearer session token is required")),
            }
        })
    }
}
