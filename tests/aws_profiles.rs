//! AWS profiles as the AWS CLI reads them, against an IAM-enforcing moto: `role_arn` +
//! `source_profile` chains (with `external_id`, `role_session_name`, `duration_seconds`), and
//! the refusals (`mfa_serial`, cycles, a source without keys).

use serde_json::json;

use crate::support::moto::Moto;
use crate::support::{Sandbox, canary, read};

#[test]
fn source_profile_role_chains_at_moto_sts() {
    let moto = Moto::enforcing();
    // The base user may only assume roles: reading the secret needs the role.
    let (id, sk) = moto.user("base", &["sts:AssumeRole"]);
    let value = canary("role");
    // moto checks the trust policies: the base user with the external id for `reader`, the
    // `reader` session for `second`.
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:user/base"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "ext-42"}}}]});
    let trust_second = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:sts::123456789012:assumed-role/reader/app-session"}, "Action": "sts:AssumeRole"}]});
    let read_policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue", "sts:AssumeRole"], "Resource": "*"}]});
    moto.admin(json!([
        {"service": "secretsmanager", "method": "create_secret", "args": {"Name": "p", "SecretString": value}},
        {"service": "iam", "method": "create_role", "args": {"RoleName": "reader", "AssumeRolePolicyDocument": trust.to_string()}},
        {"service": "iam", "method": "put_role_policy", "args": {"RoleName": "reader", "PolicyName": "r", "PolicyDocument": read_policy.to_string()}},
        {"service": "iam", "method": "create_role", "args": {"RoleName": "second", "AssumeRolePolicyDocument": trust_second.to_string()}},
        {"service": "iam", "method": "put_role_policy", "args": {"RoleName": "second", "PolicyName": "r", "PolicyDocument": read_policy.to_string()}},
    ]));
    let sb = Sandbox::new();
    sb.write(
        "aws/credentials",
        format!("[base]\naws_access_key_id = {id}\naws_secret_access_key = {sk}\n[broken]\naws_access_key_id = {id}\naws_secret_access_key = wrong\n"),
    );
    sb.write(
        "aws/config",
        "[profile app]\nrole_arn = arn:aws:iam::123456789012:role/reader\nsource_profile = base\nexternal_id = ext-42\nrole_session_name = app-session\nduration_seconds = 1800\n\
         [profile chained]\nrole_arn = arn:aws:iam::123456789012:role/second\nsource_profile = app\n\
         [profile mfa]\nrole_arn = arn:aws:iam::123456789012:role/reader\nsource_profile = base\nmfa_serial = arn:aws:iam::123456789012:mfa/me\n\
         [profile loop-a]\nrole_arn = arn:aws:iam::123456789012:role/reader\nsource_profile = loop-b\n\
         [profile loop-b]\nrole_arn = arn:aws:iam::123456789012:role/reader\nsource_profile = loop-a\n\
         [profile nokeys]\nrole_arn = arn:aws:iam::123456789012:role/reader\nsource_profile = nobody\n\
         [profile badsource]\nrole_arn = arn:aws:iam::123456789012:role/reader\nsource_profile = broken\n\
         [profile wrongext]\nrole_arn = arn:aws:iam::123456789012:role/reader\nsource_profile = base\nexternal_id = ext-41\n\
         [profile longer]\nrole_arn = arn:aws:iam::123456789012:role/reader\nsource_profile = base\nduration_seconds = 99999\n",
    );
    sb.config("secrets:\n  x: null\nsecret_init:\n  secrets:\n    x: {from: 'aws-sm:p'}\n  aws:\n    retries: 1\n");
    let run = |profile: &str| {
        let mut r = sb.run();
        moto.env(&mut r, &sb);
        r.env("AWS_PROFILE", profile)
            .args(["--log-level", "debug", "--", "/bin/true"]);
        let _ = std::fs::remove_dir_all(sb.path("out"));
        r.output()
    };
    // Negative control: the base user's own keys cannot read the secret.
    run("base").expect_code(77).no_leak(&[&value, &sk]);
    run("app")
        .expect_ok()
        .stderr_has("profile app: AssumeRole arn:aws:iam::123456789012:role/reader")
        .no_leak(&[&value, &sk]);
    assert_eq!(read(&sb.path("out/x")), value);
    run("chained")
        .expect_ok()
        .stderr_has("profile chained: AssumeRole arn:aws:iam::123456789012:role/second")
        .stderr_has("profile app: AssumeRole")
        .no_leak(&[&value, &sk]);
    assert_eq!(read(&sb.path("out/x")), value);

    run("mfa")
        .expect_code(78)
        .stderr_has("(profile mfa)")
        .stderr_has("mfa_serial");
    run("loop-a")
        .expect_code(78)
        .stderr_has("already on the chain");
    run("nokeys")
        .expect_code(77)
        .stderr_has("source_profile nobody has no credentials");
    run("badsource")
        .expect_code(77)
        .stderr_has("aws sts AssumeRole (arn:aws:iam::123456789012:role/reader, profile badsource)")
        .no_leak(&[&sk]);
    // The external id is sent: the wrong one is refused by the trust policy.
    run("wrongext").expect_code(77).stderr_has("AccessDenied");
    run("longer").expect_code(78).stderr_has("duration_seconds");
    assert!(!sb.path("out/x").exists());
}
