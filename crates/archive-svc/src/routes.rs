//! The service's routes below `/service/archive/v1`, all behind `X-API-Key` and a Bearer
//! session token.

mod files;

use coglex_common::web::Routes;

pub(crate) fn configure(routes: &mut Routes) {
    // `/` before the catch-all `/{file_reference}`.
    routes
        .add(files::__path_list_files, files::list_files)
        .add(files::__path_upload_file, files::upload_file)
        .add(files::__path_download_file, files::download_file)
        .add(files::__path_delete_file, files::delete_file);
}
