//! The service's routes below `/service/generation/v1`, all behind `X-API-Key`, each
//! registered with its OpenAPI description. Each path is one resource, so another method
//! answers 405.

mod converse;
mod file;
mod json_body;
mod schemas;
mod tokens;

use coglex_common::web::Routes;

pub(crate) fn configure(routes: &mut Routes) {
    routes
        .add(
            converse::__path_generate_content,
            converse::generate_content,
        )
        .add(converse::__path_stream_content, converse::stream_content)
        .add(file::__path_upload_file, file::upload_file)
        .add(tokens::__path_count_tokens, tokens::count_tokens);
}
