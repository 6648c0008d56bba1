//! Secret lookups, each beside a baseline measured in the same run:
//!
//! - A cached `(secret :x)` from Lua, against a Lua function that
//!   returns a constant string (the cost of the call itself). Target:
//!   at least 2,000,000 lookups per second.
//! - A first fetch through the secret-fetch thread on loopback, against
//!   a bare keep-alive reqwest GET to the same server. Target: at most
//!   2 times the bare GET. Also shown: a new client per request, driven
//!   with `block_on` from the calling thread.
//! - A pipeline making 1,000 lookups of 100 names through the real
//!   `quire-ci run`, in the api transport against the filesystem
//!   transport. Target: at most 1.2 times the filesystem wall time.
//!   Also shown: the same 100 names read with bare keep-alive GETs from
//!   this process, one after another, which is the least any transport
//!   that fetches each name on first use could add to the filesystem
//!   run.
//!
//! Run with `cargo bench -p quire-ci --bench secret_lookup`; add
//! `-- pipeline` (or `cached`, `fetch`) to run only the sections whose
//! name contains that word.

#[path = "../tests/secret_server/mod.rs"]
mod secret_server;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use quire_ci::secret::{
    FetchConfig, Redactor, SecretFetcher, SecretRegistry, SecretValue,
};
use secret_server::{RUN_ID, SecretServer, TOKEN};

const LUA_CALLS: u32 = 2_000_000;
const FETCHES: usize = 2_000;

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |section: &str| {
        filters.is_empty() || filters.iter().any(|f| section.contains(f))
    };
    if wanted("cached") {
        cached_lookup_from_lua();
    }
    if wanted("fetch") {
        first_fetch_over_loopback();
    }
    if wanted("pipeline") {
        pipeline_in_both_transports();
    }
}

fn cached_lookup_from_lua() {
    let lua = mlua::Lua::new();
    let declared = BTreeMap::from([(
        "x".to_string(),
        SecretValue::new(b"cached-secret-value".to_vec()),
    )]);
    let registry =
        Arc::new(SecretRegistry::with_declared(declared, Redactor::new()));
    registry.resolve("x", "bench").unwrap();

    let secret = lua
        .create_function(move |lua, name: mlua::String| {
            let name = name.to_str()?;
            let resolved = registry
                .resolve(&name, "bench")
                .map_err(mlua::Error::external)?;
            lua.create_string(resolved.value.expose())
        })
        .unwrap();
    let constant = lua
        .create_function(|lua, _name: mlua::String| {
            lua.create_string(b"cached-secret-value")
        })
        .unwrap();
    let lookups = lua
        .load(
            "local f, n = ... local v for _ = 1, n do v = f('x') end return v",
        )
        .into_function()
        .unwrap();

    let run = |f: &mlua::Function| {
        let started = Instant::now();
        let value: mlua::String = lookups.call((f.clone(), LUA_CALLS)).unwrap();
        black_box(value);
        started.elapsed()
    };
    run(&secret);
    let registry_time = (0..3).map(|_| run(&secret)).min().unwrap();
    let constant_time = (0..3).map(|_| run(&constant)).min().unwrap();

    let rate = |t: Duration| f64::from(LUA_CALLS) / t.as_secs_f64();
    println!("cached (secret :x) from Lua, {LUA_CALLS} calls:");
    println!(
        "  registry lookup            {:>12.0} /s  {:>6.0} ns each",
        rate(registry_time),
        registry_time.as_nanos() as f64 / f64::from(LUA_CALLS)
    );
    println!(
        "  baseline: constant string  {:>12.0} /s  {:>6.0} ns each",
        rate(constant_time),
        constant_time.as_nanos() as f64 / f64::from(LUA_CALLS)
    );
    println!(
        "  ratio: lookup takes {:.2}x the bare call; target >= 2,000,000/s",
        registry_time.as_secs_f64() / constant_time.as_secs_f64()
    );
}

fn first_fetch_over_loopback() {
    let names: Vec<String> = (0..FETCHES).map(|i| format!("key{i}")).collect();
    let values: Vec<(String, String)> = names
        .iter()
        .map(|n| (n.clone(), format!("value-of-{n}-0123456789")))
        .collect();
    let borrowed: Vec<(&str, &str)> = values
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let server = SecretServer::start(&borrowed);

    // Through the actor every name is a cache miss. The bare GET runs
    // from the same thread on its own keep-alive client. The two are
    // interleaved, and medians compared, so a change in machine load
    // during the run weighs on both alike.
    let fetcher = SecretFetcher::start(FetchConfig::new(
        server.url.as_str(),
        RUN_ID,
        SecretValue::new(TOKEN.as_bytes().to_vec()),
        Duration::from_secs(30),
    ))
    .unwrap();
    let registry =
        SecretRegistry::with_fetcher(fetcher.handle(), Redactor::new());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url =
        |name: &str| format!("{}/api/runs/{RUN_ID}/secrets/{name}", server.url);
    let get = |client: &reqwest::Client, name: &str| {
        runtime.block_on(async {
            let response = client
                .get(url(name))
                .header("authorization", format!("Bearer {TOKEN}"))
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
            response.bytes().await.unwrap()
        })
    };
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    registry.resolve("key0", "warm-up").unwrap();
    get(&client, "key0");

    let mut actor_times = Vec::with_capacity(FETCHES);
    let mut bare_times = Vec::with_capacity(FETCHES);
    for name in &names[1..] {
        let started = Instant::now();
        black_box(registry.resolve(name, "bench").unwrap());
        actor_times.push(started.elapsed());
        let started = Instant::now();
        black_box(get(&client, name));
        bare_times.push(started.elapsed());
    }
    fetcher.shutdown();
    let actor = median(&mut actor_times);
    let bare = median(&mut bare_times);

    // The earlier design: a new client, so a new connection, each time.
    let mut fresh_times: Vec<Duration> = names[..300]
        .iter()
        .map(|name| {
            let started = Instant::now();
            let client = reqwest::Client::builder().no_proxy().build().unwrap();
            black_box(get(&client, name));
            started.elapsed()
        })
        .collect();
    let fresh = median(&mut fresh_times);

    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("first fetch over loopback, {FETCHES} names, medians:");
    println!("  through the actor           {:>8.1} us", us(actor));
    println!("  baseline: bare keep-alive   {:>8.1} us", us(bare));
    println!("  new client per request      {:>8.1} us", us(fresh));
    println!(
        "  ratio: actor takes {:.2}x the bare GET (target <= 2x); a new \
         client per request takes {:.2}x",
        actor.as_secs_f64() / bare.as_secs_f64(),
        fresh.as_secs_f64() / bare.as_secs_f64()
    );
}

const PIPELINE_RUNS: usize = 31;

/// One job reading 100 names 1,000 times in all.
const LOOKUP_PIPELINE: &str = r#"(local ci (require :quire.ci))
(ci.job :lookups [:quire/push]
  (fn [{: secret}]
    (var total 0)
    (for [i 1 1000]
      (set total (+ total (length (secret (.. "s" (% i 100)))))))
    {: total}))
"#;

fn pipeline_in_both_transports() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("ws");
    std::fs::create_dir_all(workspace.join(".quire")).unwrap();
    std::fs::write(workspace.join(".quire/ci.fnl"), LOOKUP_PIPELINE).unwrap();
    let values: Vec<(String, String)> = (0..100)
        .map(|i| (format!("s{i}"), format!("pipeline-secret-value-{i:03}")))
        .collect();
    let borrowed: Vec<(&str, &str)> = values
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let server = SecretServer::start(&borrowed);
    let secrets_json = serde_json::to_string(
        &values.iter().cloned().collect::<BTreeMap<String, String>>(),
    )
    .unwrap();

    let run = |api: bool| {
        let bootstrap = dir.path().join("bootstrap.json");
        let secrets = if api { "{}" } else { secrets_json.as_str() };
        std::fs::write(
            &bootstrap,
            format!(
                r#"{{"meta":{{"sha":"0123456789abcdef0123456789abcdef01234567","ref":"refs/heads/main","pushed_at":"2026-12-04T15:07:58Z","repo":"bench"}},"git_dir":"/srv/bench.git","secrets":{secrets}}}"#
            ),
        )
        .unwrap();
        let out = tempfile::tempdir().unwrap();
        let mut command =
            std::process::Command::new(env!("CARGO_BIN_EXE_quire-ci"));
        command
            .arg("run")
            .arg("--workspace")
            .arg(&workspace)
            .arg("--out-dir")
            .arg(out.path())
            .arg("--bootstrap")
            .arg(&bootstrap)
            .stdout(std::process::Stdio::null())
            .env_remove("QUIRE_CI_TOKEN");
        if api {
            command
                .args(["--transport", "api", "--run-id", RUN_ID])
                .args(["--server-url", &server.url])
                .env("QUIRE_CI_TOKEN", TOKEN);
        }
        let started = Instant::now();
        let status = command.status().unwrap();
        let took = started.elapsed();
        assert!(status.success(), "quire-ci run failed (api: {api})");
        took
    };

    // The job's first 100 lookups, in its order, each a GET on one
    // keep-alive connection opened beforehand, as the fetch thread
    // opens its own.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bare_gets = || {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        runtime.block_on(async {
            let health = format!("{}/healthz", server.url);
            client
                .get(health)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let started = Instant::now();
            for i in 1..=100 {
                let url = format!(
                    "{}/api/runs/{RUN_ID}/secrets/s{}",
                    server.url,
                    i % 100
                );
                let response = client
                    .get(url)
                    .header("authorization", format!("Bearer {TOKEN}"))
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success());
                black_box(response.bytes().await.unwrap());
            }
            started.elapsed()
        })
    };

    run(false);
    run(true);
    let mut filesystem_times = Vec::with_capacity(PIPELINE_RUNS);
    let mut api_times = Vec::with_capacity(PIPELINE_RUNS);
    let mut bare_times = Vec::with_capacity(PIPELINE_RUNS);
    for _ in 0..PIPELINE_RUNS {
        filesystem_times.push(run(false));
        api_times.push(run(true));
        bare_times.push(bare_gets());
    }
    let filesystem = median(&mut filesystem_times);
    let api = median(&mut api_times);
    let bare = median(&mut bare_times);

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "pipeline of 1,000 lookups of 100 names, `quire-ci run`, median of \
         {PIPELINE_RUNS}:"
    );
    println!("  api transport                {:>8.1} ms", ms(api));
    println!("  baseline: filesystem         {:>8.1} ms", ms(filesystem));
    println!("  100 bare keep-alive GETs     {:>8.1} ms", ms(bare));
    println!(
        "  ratio: api takes {:.2}x the filesystem wall time (target <= \
         1.2x); filesystem plus the bare GETs alone would take {:.2}x",
        api.as_secs_f64() / filesystem.as_secs_f64(),
        (filesystem + bare).as_secs_f64() / filesystem.as_secs_f64()
    );
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}
