//! The service's routes below `/service/archive/v1`, all behind `X-API-Key` and a Bearer
//! session token.

mod files;

use actix_web::web;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(["", "/"])
            .get(files::list_files)
            .post(files::upload_file),
    )
    .service(
        web::resource("/{file_reference}")
            .get(files::download_file)
            .delete(files::delete_file),
    );
}
