//! auth-svc through HTTP on a real SecantusDB, with a real SMTP receiver and a local OAuth
//! provider standing in for Google and Facebook.

mod helpers;

mod injection;
mod legacy_bcrypt;
mod oauth;
mod openapi;
mod otp;
mod outage;
mod profile;
mod sessions;
mod signin;
mod signup;
