use super::*;

/// A vault answer with one key twice is refused (65)
/// rather than read as its last value.
#[test]
fn duplicate_keys_in_an_answer_are_refused() {
    let body = Secret::new(
        br#"{"data":{"data":{"k":"first","k":"second"},"metadata":{"version":1}}}"#.to_vec(),
    );
    let e = parse_kv("secret/x", None, KvVersion::Auto, 200, &body).expect_err("refused");
    assert_eq!(e.exit_code(), 65, "{e}");
    assert!(!e.to_string().contains("first") && !e.to_string().contains("second"));
}

#[test]
fn json_body_escapes() {
    let a = Secret::new(b"r\"o\\le\n".to_vec());
    let b = Secret::new("sé".as_bytes().to_vec());
    let body = json_body(&[("role_id", &a), ("secret_id", &b)]);
    let v: Value = serde_json::from_slice(body.expose()).expect("valid JSON");
    assert_eq!(v["role_id"], "r\"o\\le\n");
    assert_eq!(v["secret_id"], "sé");
}

#[test]
fn not_found_messages() {
    let deleted: Value = serde_json::from_str(
        r#"{"data":{"data":null,"metadata":{"deletion_time":"2026-01-01T00:00:00Z","destroyed":false,"version":2}}}"#,
    )
    .expect("json");
    assert!(not_found_text(Some(&deleted), None).contains("version 2 was deleted"));
    let destroyed: Value = serde_json::from_str(
        r#"{"data":{"data":null,"metadata":{"deletion_time":"","destroyed":true,"version":1}}}"#,
    )
    .expect("json");
    assert!(not_found_text(Some(&destroyed), Some(1)).contains("version 1 is destroyed"));
    let missing: Value = serde_json::from_str(r#"{"errors":[]}"#).expect("json");
    assert_eq!(
        not_found_text(Some(&missing), None),
        "no secret at this path (HTTP 404)"
    );
}

#[test]
fn status_text_is_short_and_clean() {
    let body =
        Secret::new(br#"{"errors":["1 error occurred:\n\t* permission denied\n\n"]}"#.to_vec());
    assert_eq!(
        status_text(403, &body),
        "HTTP 403: 1 error occurred:  * permission denied"
    );
    assert_eq!(
        status_text(500, &Secret::new(b"<html>".to_vec())),
        "HTTP 500"
    );
}
