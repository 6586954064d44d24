//! Client filenames are labels only: blobs live under server ids, and a name goes back out in
//! `Content-Disposition` (RFC 6266 `filename*`) so that it can never split or add a header.

use crate::both_backends;
use crate::helpers::*;

both_backends! {
    async fn a_path_in_the_filename_is_reduced_to_its_last_part(backend) {
        let archive = spawn(backend).await;
        let ada = archive.user("ada@example.com").await;
        let created = archive.upload_ok(&ada, file("../../etc/passwd", "text/plain", b"root:x:0:0")).await;
        assert_eq!(created["filename"], "passwd");
        let id = created["_id"].as_str().unwrap();
        let response = archive.download(&ada, id).send().await.unwrap();
        assert_eq!(
            header(&response, "content-disposition"),
            "attachment; filename=\"passwd\"; filename*=UTF-8''passwd"
        );
        assert_eq!(response.bytes().await.unwrap(), &b"root:x:0:0"[..]);
    }

    async fn blobs_are_stored_under_server_ids_only(backend) {
        let archive = spawn(backend).await;
        let ada = archive.user("ada@example.com").await;
        let created = archive.upload_ok(&ada, file("../../etc/passwd", "text/plain", b"x")).await;
        let id = created["_id"].as_str().unwrap();
        match &archive.dir {
            Some(dir) => {
                let names: Vec<String> = std::fs::read_dir(dir.path())
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect();
                assert_eq!(names, [id]);
            }
            None => {
                let files = archive.app.database.collection::<mongodb::bson::Document>("_ARCHIVE.files");
                let blob = files.find_one(mongodb::bson::doc! {}).await.unwrap().unwrap();
                assert_eq!(blob.get_object_id("_id").unwrap().to_hex(), id);
                assert_eq!(blob.get_str("filename").unwrap(), id);
            }
        }
    }

    async fn cr_lf_and_quotes_in_a_filename_never_split_the_header(backend) {
        let archive = spawn(backend).await;
        let ada = archive.user("ada@example.com").await;
        // RFC 7578 allows `filename*` (RFC 5987): the decoded name holds CR, LF and a quote.
        let form = Form::new().part(
            "name=\"file\"; filename*=UTF-8''evil%0D%0ASet-Cookie%3A%20a%3Db%22%3B%20x.txt",
            Some("text/plain"),
            b"hello",
        );
        let created = archive.upload_ok(&ada, form).await;
        assert_eq!(created["filename"], "evilSet-Cookie: a=b\"; x.txt");
        let id = created["_id"].as_str().unwrap();
        let response = archive.download(&ada, id).send().await.unwrap();
        assert!(response.headers().get("set-cookie").is_none());
        assert_eq!(
            header(&response, "content-disposition"),
            "attachment; filename=\"evilSet-Cookie: a=b_; x.txt\"; \
             filename*=UTF-8''evilSet-Cookie%3A%20a%3Db%22%3B%20x.txt"
        );
    }
}

#[tokio::test]
async fn an_escaped_quote_in_a_quoted_filename_stays_inside_the_value() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let created = archive
        .upload_ok(&ada, file("say \"hi\".txt", "text/plain", b"hi"))
        .await;
    assert_eq!(created["filename"], "say \"hi\".txt");
    let id = created["_id"].as_str().unwrap();
    let response = archive.download(&ada, id).send().await.unwrap();
    assert_eq!(
        header(&response, "content-disposition"),
        "attachment; filename=\"say _hi_.txt\"; filename*=UTF-8''say%20%22hi%22.txt"
    );
}

#[tokio::test]
async fn a_non_ascii_filename_is_percent_encoded() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let created = archive
        .upload_ok(&ada, file("résumé.txt", "text/plain", b"cv"))
        .await;
    assert_eq!(created["filename"], "résumé.txt");
    let id = created["_id"].as_str().unwrap();
    let response = archive.download(&ada, id).send().await.unwrap();
    assert_eq!(
        header(&response, "content-disposition"),
        "attachment; filename=\"r_sum_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"
    );
}

#[tokio::test]
async fn a_file_without_a_name_is_called_file() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let form = Form::new().part("name=\"file\"", Some("text/plain"), b"anonymous");
    let created = archive.upload_ok(&ada, form).await;
    assert_eq!(created["filename"], "file");
}
