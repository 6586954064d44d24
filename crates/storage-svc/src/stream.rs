//! How a stored document is shown: the API's plain JSON, without its owner when the caller
//! may not see it. Lists stream through [`coglex_common::web::json_array`].

use coglex_common::render;
use mongodb::bson::Document;

use crate::domain::policy::OWNER;

/// One document as the API's plain JSON, without its owner when the caller may not see it.
pub(crate) fn render_document(mut document: Document, hide_owner: bool) -> serde_json::Value {
    if hide_owner {
        document.remove(OWNER);
    }
    render::document(document)
}
