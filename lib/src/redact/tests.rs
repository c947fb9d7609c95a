//! One test case per secret form (shared with verify's tests through [`FORMS`]), false
//! positives on ordinary lines, idempotence, wrapped keys and user patterns.

use super::*;

/// `(form, text, secrets)`: redacting `text` must leave none of `secrets` in it.
pub(crate) const FORMS: &[(&str, &str, &[&str])] = &[
    // The forms tested before issue 11.
    (
        "openai key",
        "key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx123",
        &["AbCdEfGhIjKlMnOpQrStUvWx123"],
    ),
    (
        "anthropic key",
        "key sk-ant-api03-AbCdEfGhIjKlMnOp",
        &["AbCdEfGhIjKlMnOp"],
    ),
    (
        "github classic token",
        "tok ghp_0123456789abcdefghijABCDEFGHIJ",
        &["0123456789abcdefghijABCDEFGHIJ"],
    ),
    (
        "github fine-grained token",
        "tok github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        &["11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"],
    ),
    (
        "slack bot token",
        "slack xoxb-1234567890-abcdefghij",
        &["1234567890-abcdefghij"],
    ),
    ("aws access key id", "aws AKIAIOSFODNN7EXAMPLE", &["AKIAIOSFODNN7EXAMPLE"]),
    (
        "jwt",
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        &["eyJzdWIiOiIxMjM0NTY3ODkwIn0", "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"],
    ),
    (
        "authorization header",
        "Authorization: Bearer abcdef0123456789xyz",
        &["abcdef0123456789xyz"],
    ),
    (
        "bearer token",
        "the api answered 401 for bearer abcdef0123456789xyz",
        &["abcdef0123456789xyz"],
    ),
    ("password assignment", "password=hunter2hunter2", &["hunter2hunter2"]),
    (
        "aws secret key assignment",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        &["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"],
    ),
    ("cookie header", "Cookie: session=abc123; other=1", &["abc123"]),
    (
        "private key block",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAA\n-----END OPENSSH PRIVATE KEY-----",
        &["b3BlbnNzaC1rZXktdjEAAAAA"],
    ),
    // The forms issue 11 found leaking.
    (
        "slack webhook url",
        "curl -X POST https://hooks.slack.com/services/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 -d @msg.json",
        &["vX9fQ2mL7pR4sT6uW8yZ0aB1"],
    ),
    (
        "webhook signing secret",
        "Ready! Your webhook signing secret is whsec_5f8a9b2c4d6e8f0a1b3c5d7e9f1a2b4c (^C to quit)",
        &["5f8a9b2c4d6e8f0a1b3c5d7e9f1a2b4c"],
    ),
    (
        "gcp service account private_key_id",
        r#"  "private_key_id": "3f1c9e7a5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f01","#,
        &["3f1c9e7a5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f01"],
    ),
    (
        "netrc password, one line",
        "machine github.com login ada password Tr0ub4dor-netrc-3",
        &["Tr0ub4dor-netrc-3"],
    ),
    (
        "netrc password, several lines",
        "machine api.heroku.com\n  login ada@example.com\n  password 0b7e5c3a-heroku-netrc\n",
        &["0b7e5c3a-heroku-netrc"],
    ),
    (
        "database url whose password holds @",
        "DATABASE_URL=postgres://app:p@ss-W0rd!x@db.internal:5432/app",
        &["p@ss-W0rd!x", "ss-W0rd!x"],
    ),
    (
        "openai session key",
        "sess-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCd",
        &["AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCd"],
    ),
    (
        "mysql -p",
        "mysql -u root -pS3cretPassw0rd -h db.local app",
        &["S3cretPassw0rd"],
    ),
    (
        "mysql -p quoted",
        "mysqldump -uroot -p'Dump Pa55word' app > dump.sql",
        &["Dump Pa55word"],
    ),
    (
        "mysql --password=",
        "mariadb --user=root --password=Maria-Pa55word app",
        &["Maria-Pa55word"],
    ),
    (
        "url password holding a /",
        "DATABASE_URL=postgres://app:ab/Cd9-slash@db.internal/x",
        &["ab/Cd9-slash", "Cd9-slash"],
    ),
    (
        "redis-cli -a",
        "redis-cli -h cache.internal -a Redis-Pa55-word ping",
        &["Redis-Pa55-word"],
    ),
    (
        "REDISCLI_AUTH=",
        "REDISCLI_AUTH=Redis-Env-Pa55 redis-cli ping",
        &["Redis-Env-Pa55"],
    ),
    (
        "curl -u user:pass",
        "curl -u deploy:Hunter2-curl-pass https://api.example.com/v1",
        &["Hunter2-curl-pass"],
    ),
    (
        "curl --user=user:pass",
        "curl -s --user='ci:Ci-Secret-77' https://ci.example.com",
        &["Ci-Secret-77"],
    ),
    (
        "azure storage connection string",
        "DefaultEndpointsProtocol=https;AccountName=acmestore;AccountKey=Zm9vYmFyYmF6cXV4cXV1eA0K+abc/def==;EndpointSuffix=core.windows.net",
        &["Zm9vYmFyYmF6cXV4cXV1eA0K+abc/def=="],
    ),
    (
        "azure sas signature",
        "https://acme.blob.core.windows.net/c/f?sv=2022-11-02&sig=Xy7%2Bq9LmN0pQ4rS8tU2vW6yZ1aB3cD5eF7gH9%3D",
        &["Xy7%2Bq9LmN0pQ4rS8tU2vW6yZ1aB3cD5eF7gH9%3D"],
    ),
    (
        "sendgrid key",
        "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",
        &["ngeVfQFYQlKU0ufo8x5d1A", "TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr"],
    ),
    (
        "hugging face token",
        "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
        &["AbCdEfGhIjKlMnOpQrStUvWxYz01234567"],
    ),
    (
        "google oauth client secret",
        "client secret GOCSPX-AbCdEfGhIjKlMnOpQrStUvWxYz01",
        &["AbCdEfGhIjKlMnOpQrStUvWxYz01"],
    ),
    (
        "docker config auth",
        r#"{"auths": {"https://index.docker.io/v1/": {"auth": "ZGV2b3BzOkRvY2tlci1IdWItUGFzcw=="}}}"#,
        &["ZGV2b3BzOkRvY2tlci1IdWItUGFzcw=="],
    ),
    (
        "token wrapped across a line break",
        "export GH=ghp_0123456789abcd\nefghijABCDEFGHIJklmn\nnext line",
        &["0123456789abcd", "efghijABCDEFGHIJklmn"],
    ),
    (
        "token wrapped across three lines",
        "sk-proj-Aa1Bb2Cc3\r\nDd4Ee5Ff6Gg7Hh8\r\nIi9Jj0KkLl\r\ndone",
        &["Aa1Bb2Cc3", "Dd4Ee5Ff6Gg7Hh8", "Ii9Jj0KkLl"],
    ),
    (
        "private key tail after a cut",
        "[… 4096 bytes omitted …]\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0t\nRgeLezV6ffAt0gunVTLw7onLRnrq0AbCdEf\n-----END RSA PRIVATE KEY-----\n",
        &["MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0t", "RgeLezV6ffAt0gunVTLw7onLRnrq0AbCdEf"],
    ),
    (
        "private key in escaped json",
        r#"{"private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"}"#,
        &["MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"],
    ),
    // Redacted before issue 11 but held by no test.
    (
        "AWS_SECRET_ACCESS_KEY export",
        "export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
        &["wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"],
    ),
    (
        "sts session credentials",
        "AWS_ACCESS_KEY_ID=ASIAY34FZKBOKMUTVV7A AWS_SESSION_TOKEN=FwoGZXIvYXdzEJr//////////wEaDPk1exampleSTStoken+abc==",
        &["ASIAY34FZKBOKMUTVV7A", "FwoGZXIvYXdzEJr//////////wEaDPk1exampleSTStoken+abc=="],
    ),
    (
        "stripe live key",
        "stripe sk_live_51HcRtAbCdEfGhIjKlMnOpQr",
        &["51HcRtAbCdEfGhIjKlMnOpQr"],
    ),
    (
        "postgres url",
        "psql postgres://admin:Sup3rS3cret@db.example.com:5432/prod",
        &["Sup3rS3cret"],
    ),
    (
        "npm token",
        "//registry.npmjs.org/:_authToken=npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        &["AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"],
    ),
    (
        "gitlab token",
        "glpat-AbCdEfGhIjKlMnOpQrSt",
        &["AbCdEfGhIjKlMnOpQrSt"],
    ),
    // The other built-in rules.
    (
        "age secret key",
        "AGE-SECRET-KEY-1QQPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LQQPZRY9X8GF2TVDW0S3JN54KH",
        &["QQPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LQQPZRY9X8GF2TVDW0S3JN54KH"],
    ),
    (
        "groq key",
        "GROQ gsk_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKl",
        &["AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKl"],
    ),
    (
        "pypi token",
        "pypi-AgEIcHlwaS5vcmcCJDAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMAACKlsz",
        &["AgEIcHlwaS5vcmcCJDAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMAACKlsz"],
    ),
    (
        "rubygems key",
        "rubygems_0123456789abcdef0123456789abcdef0123456789abcdef",
        &["0123456789abcdef0123456789abcdef0123456789abcdef"],
    ),
    (
        "docker hub token",
        "docker login -p dckr_pat_AbCdEfGhIjKlMnOpQrStUvWx",
        &["AbCdEfGhIjKlMnOpQrStUvWx"],
    ),
    (
        "slack app token",
        "xapp-1-A0123456789-0123456789012-abcdef0123",
        &["A0123456789-0123456789012-abcdef0123"],
    ),
    (
        "discord webhook",
        "https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz_0123",
        &["AbCdEfGhIjKlMnOpQrStUvWxYz_0123"],
    ),
    (
        "telegram bot token",
        "bot 1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ",
        &["AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"],
    ),
    (
        "mailgun key",
        "key-0123456789abcdef0123456789abcdef",
        &["0123456789abcdef0123456789abcdef"],
    ),
    (
        "square token",
        "sq0csp-AbCdEfGhIjKlMnOpQrStUvWxYz0",
        &["AbCdEfGhIjKlMnOpQrStUvWxYz0"],
    ),
    (
        "shopify token",
        "shpat_0123456789abcdef0123456789abcdef",
        &["0123456789abcdef0123456789abcdef"],
    ),
    (
        "linear key",
        "lin_api_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCd",
        &["AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCd"],
    ),
    (
        "sentry token",
        "sntrys_eyJpYXQiOjE2ODQ4MjQ1NjcuMDQ0MjEsInVybCI6Imh0dHBzOi8vc2VudHJ5",
        &["eyJpYXQiOjE2ODQ4MjQ1NjcuMDQ0MjEsInVybCI6Imh0dHBzOi8vc2VudHJ5"],
    ),
    (
        "atlassian token",
        "ATATT3xFfGF0AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKlMnOpQrStUv",
        &["xFfGF0AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"],
    ),
    (
        "grafana token",
        "glsa_AbCdEfGhIjKlMnOpQrStUvWxYz012345_0a1b2c3d",
        &["AbCdEfGhIjKlMnOpQrStUvWxYz012345"],
    ),
    (
        "google api key",
        "AIzaSyA-0123456789abcdefghijklmnopqrstu",
        &["SyA-0123456789abcdefghijklmnopqrstu"],
    ),
    (
        "google oauth access token",
        "ya29.a0AfH6SMBx0123456789abcdefghijklmnop",
        &["a0AfH6SMBx0123456789abcdefghijklmnop"],
    ),
    (
        "digitalocean token",
        "dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        &["0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"],
    ),
    (
        "vault token",
        "VAULT hvs.CAESIAbCdEfGhIjKlMnOpQrStUvWxYz012",
        &["CAESIAbCdEfGhIjKlMnOpQrStUvWxYz012"],
    ),
    (
        "doppler token",
        "dp.st.dev.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGh dp.pt.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGh",
        &["AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGh"],
    ),
    (
        "planetscale token",
        "pscale_tkn_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        &["AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"],
    ),
    (
        "terraform token",
        "abcdef01234567.atlasv1.abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123",
        &["abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123"],
    ),
    (
        "heroku key",
        "HRKU-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKlMnOpQrSt",
        &["AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKlMnOpQrSt"],
    ),
    (
        "databricks token",
        "dapi0123456789abcdef0123456789abcdef",
        &["0123456789abcdef0123456789abcdef"],
    ),
    (
        "supabase secret key",
        "sb_secret_AbCdEfGhIjKlMnOpQrStUvWx",
        &["AbCdEfGhIjKlMnOpQrStUvWx"],
    ),
    (
        "alibaba access key id",
        "LTAI5tAbCdEfGhIjKlMnOpQr",
        &["LTAI5tAbCdEfGhIjKlMnOpQr"],
    ),
    (
        "sshpass -p",
        "sshpass -p 'Ssh-Pa55word' ssh deploy@host",
        &["Ssh-Pa55word"],
    ),
    (
        "yaml key and value split by a line break",
        "db:\n  password:\n    Yaml-Split-Pa55\n",
        &["Yaml-Split-Pa55"],
    ),
    (
        "escaped json password",
        r#"{\"password\": \"Esc4ped-Json-Pass\"}"#,
        &["Esc4ped-Json-Pass"],
    ),
];

fn clean(s: &str) -> String {
    redact(s).into_owned()
}

#[test]
fn redacts_every_form() {
    let mut failures = Vec::new();
    for (form, text, secrets) in FORMS {
        let out = clean(text);
        if !out.contains(MARKER) || secrets.iter().any(|s| out.contains(s)) {
            failures.push(format!("{form}: {text:?} -> {out:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_builtin_kind_has_a_form() {
    let all: String = FORMS
        .iter()
        .map(|(_, t, _)| clean(t))
        .collect::<Vec<_>>()
        .join("\n");
    for kind in builtin_kinds() {
        assert!(
            all.contains(&format!("[REDACTED:{kind}]")),
            "no form in FORMS is redacted as {kind}"
        );
    }
}

#[test]
fn every_builtin_rule_compiles() {
    for r in &builtin().rules {
        assert!(r.regex().is_some(), "{}: {}", r.kind, r.pattern);
        if let Some((p, _)) = &r.allow {
            assert!(compile(p).is_ok(), "{}: allow {p}", r.kind);
        }
    }
}

#[test]
fn redacts_each_form_inside_surrounding_text_and_keeps_the_text() {
    for (form, text, _) in FORMS {
        let line = format!("before {text} after");
        let out = clean(&line);
        assert!(out.starts_with("before "), "{form}: {out}");
        // A cookie header's value runs to the end of its line.
        if !text.starts_with("Cookie:") {
            assert!(out.ends_with(" after"), "{form}: {out}");
        }
    }
}

#[test]
fn redacts_private_key_blocks_whole() {
    let pem = "before\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAA\n-----END OPENSSH PRIVATE KEY-----\nafter";
    assert_eq!(clean(pem), "before\n[REDACTED:private_key]\nafter");
    let torn = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA";
    assert_eq!(clean(torn), "[REDACTED:private_key]");
}

#[test]
fn names_the_kind_and_keeps_the_key_name() {
    assert_eq!(
        clean("export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        "export AWS_SECRET_ACCESS_KEY=[REDACTED:secret]"
    );
    assert_eq!(
        clean("postgres://app:p@ss@db/x"),
        "postgres://app:[REDACTED:url_password]@db/x"
    );
    assert_eq!(
        clean("mysql -u root -pS3cret app"),
        "mysql -u root -p[REDACTED:cli_password] app"
    );
}

/// Lines from ordinary coding sessions: none may change.
const ORDINARY: &[&str] = &[
    "cargo test --all-targets",
    "error[E0382]: borrow of moved value: `buf`",
    "\"input_tokens\": 1234, \"type\":\"token_count\"",
    "\"max_tokens\": 4096, \"cache_read_input_tokens\": 0",
    "the skill-based task is done",
    "我们先看一下这个仓库的测试命令",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "Merge: 1a2b3c4 5d6e7f8",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "session 7c1e9f3a-b2d4-4e6f-8a0c-1b3d5f7a9c2e started",
    "let token = tokens.next();",
    "password = getpass.getpass()",
    "token = os.environ[\"GH_TOKEN\"]",
    "let secret = self.secret.clone();",
    "api_key = config.api_key",
    "password: $DB_PASSWORD",
    "token: ${{ secrets.GITHUB_TOKEN }}",
    "if secret.is_empty() { return Err(e); }",
    "fn api_key(&self) -> &str { &self.key }",
    "const KEY_SIZE: usize = 32;",
    "export PATH=/usr/local/bin:$PATH",
    "git push origin main",
    "https://github.com/rust-lang/rust/pull/12345",
    "http://[::1]:8080/health",
    "https://example.com:8443/path/to/file?x=1",
    "git clone git@github.com:org/repo.git",
    "ssh-keygen -t ed25519 -C ada@example.com",
    "curl -sSL https://sh.rustup.rs | sh -s -- -y",
    "curl -u $USER https://example.com",
    "curl --user-agent \"Mozilla/5.0 (X11; Linux x86_64)\" https://example.com",
    "mysql -u root -p mydb",
    "docker run -p 8080:80 -e TZ=Asia/Shanghai nginx",
    "src/main.rs:42:5: warning: unused variable",
    "key-value store benchmarks",
    "the bearer token is read from the environment",
    "test result: ok. 35 passed; 0 failed; 0 ignored",
    "sess-1 and sess-2 are sessions",
    "    Finished `release` profile [optimized] target(s) in 1m 02s",
    "assert_eq!(redact(\"x\"), \"x\");",
    "passwords must be 12 characters",
    "the secret sauce is caching",
    "{\"secret\": true, \"password\": null}",
];

#[test]
fn leaves_ordinary_lines_alone() {
    let changed: Vec<String> = ORDINARY
        .iter()
        .filter_map(|s| {
            let out = clean(s);
            (out != *s).then(|| format!("{s:?} -> {out:?}"))
        })
        .collect();
    assert!(changed.is_empty(), "\n{}", changed.join("\n"));
    // The same lines as one multi-line text (the wrapped-key pass sees line pairs).
    let all = ORDINARY.join("\n");
    assert_eq!(clean(&all), all);
}

#[test]
fn is_idempotent() {
    for (form, text, _) in FORMS {
        let once = clean(text);
        assert_eq!(clean(&once), once, "{form}");
    }
    let once = clean("password=hunter2hunter2 and sk-ant-api03-AbCdEfGhIjKlMnOp");
    assert_eq!(clean(&once), once);
}

#[test]
fn finds_are_ordered_and_disjoint() {
    let text = FORMS
        .iter()
        .map(|(_, t, _)| *t)
        .collect::<Vec<_>>()
        .join("\n");
    let found = find(&text);
    let out = redact(&text);
    for (form, _, secrets) in FORMS {
        assert!(!secrets.iter().any(|s| out.contains(s)), "{form}: {out}");
    }
    for w in found.windows(2) {
        assert!(w[0].range.end <= w[1].range.start, "{w:?}");
    }
}

#[test]
fn pattern_check_refuses_bad_and_empty_matching_patterns() {
    assert!(check_pattern(r"acme_[a-z0-9]{20}").is_ok());
    let e = check_pattern("acme_[a-z").unwrap_err();
    assert!(!e.contains('\n'), "{e}");
    assert!(check_pattern("x*").is_err());
    assert!(check_pattern("a{1000}{1000}").is_err());
}

#[test]
fn word_boundaries_are_ascii_so_the_fast_search_keeps_going_past_non_ascii_text() {
    assert_eq!(
        ascii_word_boundaries(r"\bghp_[a-z]+\B"),
        r"(?-u:\b)ghp_[a-z]+(?-u:\B)"
    );
    // An escaped backslash before `b` is a literal backslash and a `b`.
    assert_eq!(ascii_word_boundaries(r"a\\b"), r"a\\b");
    assert!(matches!(ascii_word_boundaries("plain"), Cow::Borrowed(_)));
    // A token right after CJK text (no ASCII word character before it) is still found.
    let token = format!("ghp_{}", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8");
    let text = format!("见令牌{token}。");
    let out = redact(&text);
    assert!(!out.contains(&token), "{out}");
}
