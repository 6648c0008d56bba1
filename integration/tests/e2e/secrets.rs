//! Secrets end to end: reading, sources, unknown names, redaction of
//! everything recorded, and the bootstrap file.

use std::os::unix::fs::PermissionsExt;

use base64::Engine as _;
use integration::pipeline::{capture_runner, config, fennel_string};
use integration::scan::{files_under, find, find_in_files};
use integration::{Quire, in_both_transports};

const ALPHA: &str = "alpha-value-5e1f0c7d";
const BETA: &str = "beta-value-92ab44e1";

fn literal_secrets() -> String {
    format!(
        ":alpha {} :beta {}",
        fennel_string(ALPHA),
        fennel_string(BETA)
    )
}

const READ_FIFTY_TIMES: &str = r#"(local ci (require :quire.ci))

(ci.job :echo [:quire/push]
  (fn [{: sh : secret}]
    (for [_ 1 50]
      (secret :alpha)
      (secret :beta))
    (sh ["echo" "argv" (secret :alpha) (secret :beta)])
    (sh (.. "echo shell " (secret :alpha) " " (secret :beta)))
    {:done true}))
"#;

fn secrets_read_and_redacted(transport: &str) {
    let quire = Quire::start(&config(transport, &literal_secrets()));
    let repo = quire.new_repo("widgets");
    repo.write(".quire/ci.fnl", READ_FIFTY_TIMES);
    repo.commit("read two secrets");
    repo.push();

    let run = &quire.wait_for_runs("widgets", 1)[0];
    assert_eq!(run.state(), "complete", "{:#}", run.json);
    assert_eq!(run.transport(), transport);
    assert_eq!(run.job_outcome("echo"), Some("complete"));
    let log = run.job_log("echo");
    assert!(log.contains("argv {{ alpha }} {{ beta }}"), "{log}");
    assert!(log.contains("shell {{ alpha }} {{ beta }}"), "{log}");
    assert!(!log.contains(ALPHA), "alpha leaked into the log:\n{log}");
    assert!(!log.contains(BETA), "beta leaked into the log:\n{log}");
    for command in run.commands("echo") {
        let cmd = command["cmd"].as_str().unwrap_or_default();
        assert!(!cmd.contains(ALPHA), "alpha in a command: {cmd}");
        assert!(!cmd.contains(BETA), "beta in a command: {cmd}");
    }

    // Each name is fetched (or taken from the bootstrap) once per run,
    // although the job reads it 52 times.
    let result = if transport == "api" {
        "granted"
    } else {
        "bootstrap"
    };
    for name in ["alpha", "beta"] {
        assert_eq!(
            run.access_count(name, result),
            1,
            "{name}: {:?}",
            run.accesses()
        );
    }
    assert_eq!(run.accesses().len(), 2, "{:?}", run.accesses());
}
in_both_transports!(
    secrets_read_and_redacted,
    filesystem: ,
    api: );

fn file_and_env_sources(transport: &str) {
    const FROM_FILE: &str = "file-value-0b7d3e11";
    const FROM_ENV: &str = "env-value-7c2d9f40";
    let mut quire = Quire::new("");
    let secret_file = quire.scratch().join("deploy-key.txt");
    // One trailing newline is stripped from a file secret.
    std::fs::write(&secret_file, format!("{FROM_FILE}\n")).unwrap();
    let secrets = format!(
        ":from-file {{:file {}}} :from-env {{:env \"QUIRE_E2E_SECRET\"}}",
        fennel_string(&secret_file.display().to_string())
    );
    std::fs::write(
        quire.data_dir().join("config.fnl"),
        config(transport, &secrets),
    )
    .unwrap();
    quire.set_env("QUIRE_E2E_SECRET", FROM_ENV);
    quire.start_server();

    let out = quire.scratch();
    let shell = format!(
        "printf %s \"$F\" > '{0}/file'; printf %s \"$E\" > '{0}/env'; \
         echo \"got $F and $E\"",
        out.display()
    );
    let pipeline = format!(
        r#"(local ci (require :quire.ci))

(ci.job :read [:quire/push]
  (fn [{{: sh : secret}}]
    (sh {} {{:env {{:F (secret :from-file) :E (secret :from-env)}}}})
    {{}}))
"#,
        fennel_string(&shell)
    );
    let repo = quire.new_repo("widgets");
    repo.write(".quire/ci.fnl", &pipeline);
    repo.commit("read file and env secrets");
    repo.push();

    let run = &quire.wait_for_runs("widgets", 1)[0];
    assert_eq!(run.state(), "complete", "{:#}", run.json);
    let file = std::fs::read_to_string(out.join("file")).unwrap();
    let env = std::fs::read_to_string(out.join("env")).unwrap();
    assert_eq!(file, FROM_FILE, "the file secret reached the job");
    assert_eq!(env, FROM_ENV, "the env secret reached the job");
    let log = run.job_log("read");
    assert!(
        log.contains("got {{ from-file }} and {{ from-env }}"),
        "{log}"
    );
}
in_both_transports!(
    file_and_env_sources,
    filesystem: ,
    api: );

const UNKNOWN_NAME: &str = r#"(local ci (require :quire.ci))

(ci.job :asks [:quire/push]
  (fn [{: secret}]
    (secret :alpha)
    (secret :not-declared)
    {}))

(ci.job :after-asks [:asks]
  (fn [] {}))

(ci.job :independent [:quire/push]
  (fn [{: sh}]
    (sh "echo still running")
    {}))
"#;

fn unknown_secret_fails_job(transport: &str) {
    let quire = Quire::start(&config(transport, &literal_secrets()));
    let repo = quire.new_repo("widgets");
    repo.write(".quire/ci.fnl", UNKNOWN_NAME);
    repo.commit("ask for an undeclared secret");
    repo.push();

    let run = &quire.wait_for_runs("widgets", 1)[0];
    assert_eq!(run.state(), "failed", "{:#}", run.json);
    assert_eq!(run.job_outcome("asks"), Some("failed"));
    let message = run.job_message("asks");
    assert!(
        message.contains("unknown secret: not-declared"),
        "job message: {message}"
    );
    assert_eq!(run.job_outcome("after-asks"), Some("skipped"));
    assert_eq!(run.job_outcome("independent"), Some("complete"));
    assert!(run.job_log("independent").contains("still running"));
    if transport == "api" {
        assert_eq!(run.access_count("not-declared", "unknown_secret"), 1);
    }
}
in_both_transports!(
    unknown_secret_fails_job,
    filesystem: ,
    api: );

const TOKEN: &str = "tok-leak-test-4f8e2a9c71b3d560";
const PEM: &str = "-----BEGIN TEST KEY-----\n\
                   MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA0e2e\n\
                   c2VjcmV0LWxpbmUtdHdvLW9mLXRoZS1rZXk9PQ\n\
                   -----END TEST KEY-----";

const LEAKY: &str = r#"(local ci (require :quire.ci))

(ci.job :stderr [:quire/push]
  (fn [{: sh : secret}]
    (let [r (sh "printf 'cannot log in with %s\n' \"$T\" >&2; exit 3"
                {:env {:T (secret :token)}})]
      {:exit r.exit :stderr r.stderr})))

(ci.job :lua-error [:quire/push]
  (fn [{: secret}]
    (error (.. "cannot deploy with " (secret :token)))))

(ci.job :outputs [:quire/push]
  (fn [{: secret}]
    {:token (secret :token) :key (secret :pem)}))

(ci.job :halves [:quire/push]
  (fn [{: sh : secret}]
    (let [v (secret :token)
          cut (math.floor (/ (length v) 2))]
      (sh "printf 'halves %s' \"$A\"; sleep 0.3; printf '%s\n' \"$B\""
          {:env {:A (string.sub v 1 cut) :B (string.sub v (+ cut 1))}}))
    {}))

(ci.job :multi-line [:quire/push]
  (fn [{: sh : secret : log}]
    (sh "printf 'key:\n%s\nend\n' \"$P\"" {:env {:P (secret :pem)}})
    (log (.. "the key is " (secret :pem)))
    {}))

(ci.job :base64 [:quire/push]
  (fn [{: sh : secret}]
    (sh "printf %s \"$T\" | base64; printf %s \"$P\" | base64 -w0"
        {:env {:T (secret :token) :P (secret :pem)}})
    {}))

(ci.job :run-token [:quire/push]
  (fn [{: sh}]
    (sh CAPTURE)
    (sh "tr '\\0' '\\n' < /proc/$PPID/environ | grep '^QUIRE_CI_TOKEN=' || true")
    {}))

(ci.job :reads-outputs [:outputs]
  (fn [{: jobs : log}]
    (log (.. "upstream said " (. (jobs :outputs) :token)))
    {}))
"#;

fn secrets_reach_no_file(transport: &str) {
    let mut quire = Quire::new("");
    let pem_file = quire.scratch().join("key.pem");
    std::fs::write(&pem_file, format!("{PEM}\n")).unwrap();
    // Neither value is written in config.fnl or the pipeline, so any
    // copy under the data directory came from a run.
    let secrets = format!(
        ":token {{:env \"QUIRE_E2E_TOKEN\"}} :pem {{:file {}}}",
        fennel_string(&pem_file.display().to_string())
    );
    std::fs::write(
        quire.data_dir().join("config.fnl"),
        config(transport, &secrets),
    )
    .unwrap();
    quire.set_env("QUIRE_E2E_TOKEN", TOKEN);
    quire.start_server();

    let capture = capture_runner(&quire.scratch(), "run");
    let pipeline = LEAKY.replace("CAPTURE", &fennel_string(&capture));
    let repo = quire.new_repo("widgets");
    repo.write(".quire/ci.fnl", &pipeline);
    repo.commit("try every way to leak a secret");
    repo.push();

    let run = &quire.wait_for_runs("widgets", 1)[0];
    assert_eq!(run.state(), "failed", "{:#}", run.json);
    assert_eq!(run.job_outcome("lua-error"), Some("failed"));
    let message = run.job_message("lua-error");
    assert!(
        message.contains("cannot deploy with {{ token }}"),
        "{message}"
    );
    for job in [
        "stderr",
        "outputs",
        "halves",
        "multi-line",
        "base64",
        "run-token",
        "reads-outputs",
    ] {
        assert_eq!(run.job_outcome(job), Some("complete"), "job {job}");
    }
    let halves = run.job_log("halves");
    assert!(halves.contains("halves {{ token }}"), "{halves}");
    let stderr = run.job_log("stderr");
    assert!(
        stderr.contains("cannot log in with {{ token }}"),
        "{stderr}"
    );
    let multi = run.job_log("multi-line");
    assert!(multi.contains("key:\n{{ pem }}\nend"), "{multi}");

    let b64 = base64::engine::general_purpose::STANDARD;
    let token_b64 = b64.encode(TOKEN);
    let pem_b64 = b64.encode(PEM);
    let mut needles: Vec<(&str, &[u8])> = vec![
        ("token", TOKEN.as_bytes()),
        ("pem", PEM.as_bytes()),
        ("a line of pem", PEM.lines().nth(1).unwrap().as_bytes()),
        ("base64 of token", token_b64.as_bytes()),
        ("base64 of pem", pem_b64.as_bytes()),
    ];
    // In the api transport the run's token is redacted too, since a
    // command can read it from quire-ci's environment in /proc.
    let run_token = std::fs::read_to_string(quire.scratch().join("run.token"))
        .expect("the run-token job captured the token");
    let run_token = run_token.trim();
    assert_eq!(run_token.len(), 64, "a captured token");
    if transport == "api" {
        needles.push(("the run's token", run_token.as_bytes()));
        let log = run.job_log("run-token");
        assert!(log.contains("QUIRE_CI_TOKEN="), "{log}");
    }
    let files = files_under(&quire.data_dir());
    assert!(
        files.iter().any(|f| f.ends_with("quire.db")),
        "the scan covers the database"
    );
    assert!(
        files.iter().any(|f| f.ends_with("outputs.json")),
        "the scan covers job outputs: {files:?}"
    );
    let hits = find_in_files(&quire.data_dir(), &needles);
    assert!(
        hits.is_empty(),
        "secret bytes under the data directory: {hits:#?}"
    );
    let server_log = quire.server_log();
    for (label, needle) in &needles {
        assert_eq!(
            find(server_log.as_bytes(), needle),
            None,
            "{label} in the server log"
        );
    }
}
in_both_transports!(
    secrets_reach_no_file,
    filesystem: ,
    api: );

/// Writes a stand-in for quire-ci that copies the bootstrap file and
/// its mode to `capture`, then runs the real quire-ci with the same
/// arguments.
fn bootstrap_capturing_runner(quire: &Quire) -> std::path::PathBuf {
    let capture = quire.scratch().join("bootstrap");
    std::fs::create_dir_all(&capture).unwrap();
    let script = format!(
        "#!/bin/sh\n\
         prev=\n\
         for arg in \"$@\"; do\n\
           if [ \"$prev\" = --bootstrap ]; then\n\
             cp \"$arg\" '{capture}/copy.json'\n\
             stat -c %a \"$arg\" > '{capture}/mode'\n\
           fi\n\
           prev=$arg\n\
         done\n\
         exec '{real}' \"$@\"\n",
        capture = capture.display(),
        real = quire.binaries().quire_ci.display(),
    );
    let path = quire.scratch().join("quire-ci-capturing");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .unwrap();
    path
}

fn bootstrap_removed_and_empty(transport: &str) {
    let mut quire = Quire::new(&config(transport, &literal_secrets()));
    let wrapper = bootstrap_capturing_runner(&quire);
    quire.set_quire_ci(wrapper);
    quire.start_server();
    let repo = quire.new_repo("widgets");
    repo.write(".quire/ci.fnl", READ_FIFTY_TIMES);
    repo.commit("read two secrets");
    repo.push();

    let run = &quire.wait_for_runs("widgets", 1)[0];
    assert_eq!(run.state(), "complete", "{:#}", run.json);
    let leftovers: Vec<_> = files_under(&quire.data_dir())
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("bootstrap"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "bootstrap files remain: {leftovers:?}"
    );

    let capture = quire.scratch().join("bootstrap");
    let mode = std::fs::read_to_string(capture.join("mode")).unwrap();
    assert_eq!(mode.trim(), "600", "the bootstrap file's mode");
    let text = std::fs::read_to_string(capture.join("copy.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let secrets = json["secrets"]
        .as_object()
        .unwrap_or_else(|| panic!("no secrets map in the bootstrap: {text}"));
    if transport == "api" {
        assert!(
            secrets.is_empty(),
            "api bootstrap holds secrets: {secrets:?}"
        );
        assert!(!text.contains(ALPHA), "api bootstrap holds alpha");
        assert!(!text.contains(BETA), "api bootstrap holds beta");
    } else {
        // The capture works: the filesystem transport's file does hold
        // the values.
        assert_eq!(secrets.len(), 2, "{:?}", secrets.keys());
        assert!(text.contains(ALPHA), "filesystem bootstrap lacks alpha");
        assert!(text.contains(BETA), "filesystem bootstrap lacks beta");
    }
}
in_both_transports!(
    bootstrap_removed_and_empty,
    filesystem: ,
    api: );
